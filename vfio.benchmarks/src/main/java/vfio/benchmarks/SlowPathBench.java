package vfio.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;
import vfio.api.device.Region;
import vfio.backend.user.internal.VfioUserBackendFactory;
import vfio.posix.ErrnoException;
import vfio.posix.UnixServerSocket;
import vfio.posix.UnixSocket;

/**
 * The vfio-user slow path, measured from a client JVM against a server in another process.
 *
 * <pre>
 * SlowPathBench api SOCKET SERVER_PID SECONDS   driver API (CoreDevice + vfio.backend.user) against
 *                                               the edu emulator serving SOCKET (process SERVER_PID)
 * SlowPathBench floor-server PATH               Java ping-pong peer: echoes 32-byte requests with
 *                                               36-byte replies (until the client closes)
 * SlowPathBench floor-client PATH SECONDS       Java ping-pong client against floor-server
 * </pre>
 *
 * Output lines are {@code key value} for run.sh to tabulate. Sync figures are the median over 7
 * rounds of ns per round trip; the server's CPU comes from /proc/SERVER_PID/stat (utime+stime).
 */
public final class SlowPathBench {
    private static final int ROUNDS = 7;
    private static final int REQ = 32;
    private static final int REPLY = 36;

    private SlowPathBench() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "api" -> api(Path.of(args[1]), Long.parseLong(args[2]), Double.parseDouble(args[3]));
            case "floor-server" -> floorServer(Path.of(args[1]));
            case "floor-client" -> floorClient(Path.of(args[1]), Double.parseDouble(args[2]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    private static void api(Path socket, long serverPid, double seconds) throws Exception {
        try (BenchDevice rig = new BenchDevice("edu-bench", "vfio-user:" + socket)) {
            rig.bind(VfioUserBackendFactory.defaults());
            rig.awaitBound();
            Region bar0 = rig.device.region(0);
            if (!bar0.mappedRanges().isEmpty()) {
                throw new IllegalStateException("edu BAR0 is mapped: this would not measure REGION_READ");
            }
            if (bar0.read32(0) != 0x010000ed) {
                throw new IllegalStateException("not the edu device: id register " + Integer.toHexString(bar0.read32(0)));
            }
            double round = seconds / ROUNDS;
            long cpu0 = cpuTicks(serverPid);
            long n0 = System.nanoTime();
            warm(() -> bar0.read32(0), 1.0);
            print("api-read32-ns", sync(() -> bar0.read32(0), round));
            int[] v = {0};
            warm(() -> {
                bar0.write32(4, ++v[0]);
                return 0;
            }, 0.5);
            print("api-write32-ns", sync(() -> {
                bar0.write32(4, ++v[0]);
                return 0;
            }, round));
            long cpu1 = cpuTicks(serverPid);
            double syncWall = (System.nanoTime() - n0) / 1e9;
            print("server-sync-cpu-us-per-req", (cpu1 - cpu0) * 1e4 / syncOps);
            print("server-sync-busy-fraction", (cpu1 - cpu0) / 100.0 / syncWall);
            long ops = pipelined(bar0, 16, seconds);
            long cpu2 = cpuTicks(serverPid);
            print("api-pipelined16-ops", ops / seconds);
            print("server-pipelined-cpu-us-per-req", (cpu2 - cpu1) * 1e4 / ops);
        }
    }

    /** Synchronous calls made by {@link #sync}, for the server's CPU per request. */
    private static long syncOps;

    private static void warm(IntSupplier op, double seconds) {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end) {
            for (int i = 0; i < 100; i++) {
                op.getAsInt();
            }
        }
    }

    /** Median ns per call over {@value #ROUNDS} rounds of {@code roundSeconds} each. */
    private static double sync(IntSupplier op, double roundSeconds) {
        double[] r = new double[ROUNDS];
        int sink = 0;
        for (int k = 0; k < ROUNDS; k++) {
            long n = 0;
            long t0 = System.nanoTime();
            long end = t0 + (long) (roundSeconds * 1e9);
            long t;
            do {
                for (int i = 0; i < 100; i++) {
                    sink += op.getAsInt();
                }
                n += 100;
            } while ((t = System.nanoTime()) < end);
            r[k] = (double) (t - t0) / n;
            syncOps += n;
        }
        if (sink == 42) {
            System.out.print("");
        }
        Arrays.sort(r);
        return r[ROUNDS / 2];
    }

    /** {@code threads} threads each doing synchronous read32 for {@code seconds}; returns total ops. */
    private static long pipelined(Region bar0, int threads, double seconds) throws InterruptedException {
        LongAdder ops = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicBoolean measuring = new AtomicBoolean();
        CountDownLatch done = new CountDownLatch(threads);
        List<Throwable> errors = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        bar0.read32(0);
                        if (measuring.get()) {
                            ops.increment();
                        }
                    }
                } catch (Throwable e) {
                    synchronized (errors) {
                        errors.add(e);
                    }
                } finally {
                    done.countDown();
                }
            }, "pipelined-" + i);
            t.start();
        }
        Thread.sleep(1000); // warm-up with all threads in flight
        measuring.set(true);
        Thread.sleep((long) (seconds * 1000));
        measuring.set(false);
        long n = ops.sum();
        stop.set(true);
        if (!done.await(10, java.util.concurrent.TimeUnit.SECONDS) || !errors.isEmpty()) {
            throw new IllegalStateException("pipelined readers failed: " + errors);
        }
        return n;
    }

    private static void floorServer(Path path) throws ErrnoException {
        try (UnixServerSocket server = UnixServerSocket.listen(path, 1)) {
            System.out.println("listening on " + path);
            System.out.flush();
            try (UnixSocket s = server.accept(30_000)) {
                if (s == null) {
                    throw new IllegalStateException("no floor client within 30 s");
                }
                ByteBuffer req = ByteBuffer.allocateDirect(REQ);
                ByteBuffer reply = ByteBuffer.allocateDirect(REPLY);
                List<vfio.posix.Fd> fds = new ArrayList<>();
                while (readFully(s, req, fds)) {
                    reply.clear();
                    s.send(reply, new int[0]);
                }
            }
        }
    }

    private static boolean readFully(UnixSocket s, ByteBuffer b, List<vfio.posix.Fd> fds) throws ErrnoException {
        b.clear();
        while (b.hasRemaining()) {
            if (s.receive(b, fds, 0) == 0) {
                return false;
            }
        }
        return true;
    }

    private static void floorClient(Path path, double seconds) throws Exception {
        try (UnixSocket s = UnixSocket.connect(path)) {
            ByteBuffer req = ByteBuffer.allocateDirect(REQ);
            ByteBuffer reply = ByteBuffer.allocateDirect(REPLY);
            List<vfio.posix.Fd> fds = new ArrayList<>();
            IntSupplier roundTrip = () -> {
                try {
                    req.clear();
                    s.send(req, new int[0]);
                    if (!readFully(s, reply, fds)) {
                        throw new IllegalStateException("floor server closed the connection");
                    }
                    return reply.get(0);
                } catch (ErrnoException e) {
                    throw new IllegalStateException(e);
                }
            };
            warm(roundTrip, 1.0);
            print("java-floor-sync-ns", sync(roundTrip, seconds / ROUNDS));
        }
    }

    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14, 15)
    }

    private static void print(String key, double value) {
        System.out.println(key + " " + String.format(Locale.ROOT, "%.2f", value));
    }
}
