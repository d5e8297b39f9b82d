package vfio.backend.user.internal;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.OpenRequest;

/**
 * Measures synchronous 4-byte REGION_READ round trips of the Java client (median of many calls) and
 * puts them next to the raw AF_UNIX ping-pong floor measured in the same run. Not a unit test: run
 * it by hand, pinned like the reference measurements, e.g.
 *
 * <pre>
 * cc -O2 -o /tmp/vfio_user_bench vfio.backend.user/src/test/c/vfio_user_bench.c
 * mvn -q -o -pl vfio.backend.user dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * taskset -c 1 java --enable-native-access=ALL-UNNAMED \
 *     -cp vfio.backend.user/target/classes:vfio.backend.user/target/test-classes:$(cat /tmp/cp.txt) \
 *     vfio.backend.user.internal.RoundTripBenchmark /tmp/vfio_user_bench [calls]
 * </pre>
 *
 * With the C tool's path it starts the tool's minimal server (so the server adds nothing of its own),
 * measures the Java client against it, the C client against it, and the raw floor. With {@code edu}
 * it measures against the edu emulation on the platform's server library, in this JVM (BAR0's id
 * register). Without arguments, against the in-process {@link FakeServer}.
 */
public final class RoundTripBenchmark {
    private RoundTripBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        boolean edu = args.length > 0 && args[0].equals("edu");
        String tool = args.length > 0 && !edu ? args[0] : null;
        int calls = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        Path dir = Files.createTempDirectory("vfio-bench");
        Path sock = dir.resolve("bench.sock");
        Process server = null;
        FakeServer fake = null;
        FakeDevice device = null;
        vfio.emulator.edu.EduEmulator emulator = null;
        try {
            if (edu) {
                emulator = vfio.emulator.edu.EduEmulator.start(sock);
            } else if (tool != null) {
                server = new ProcessBuilder(tool, "server", sock.toString()).redirectErrorStream(true).start();
                BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
                String line = out.readLine();
                if (!"listening".equals(line)) {
                    throw new IllegalStateException("bench server said " + line);
                }
            } else {
                device = new FakeDevice();
                fake = FakeServer.start(sock, device);
            }
            VfioUserBackendFactory factory = new VfioUserBackendFactory(Duration.ofSeconds(2), List.of(), 1 << 20, true, false);
            long javaMedian;
            try (DeviceIoOps ops = factory.open(new OpenRequest("bench", "vfio-user:" + sock, Duration.ofSeconds(5),
                    Map.of()))) {
                javaMedian = measure(ops, edu ? 0 : 1, calls);
            }
            System.out.printf("java-client (%s server) median_ns=%d%n",
                    edu ? "edu emulation, same JVM" : tool != null ? "C" : "Java fake", javaMedian);
            if (tool != null) {
                String c = run(tool, "client", sock.toString(), Integer.toString(calls));
                String raw = run(tool, "raw", Integer.toString(calls));
                System.out.print(c);
                System.out.print(raw);
                long rawMedian = median(raw);
                long cMedian = median(c);
                System.out.printf("ratio java/raw = %.2f, java/c-client = %.2f%n", (double) javaMedian / rawMedian,
                        (double) javaMedian / cMedian);
            }
        } finally {
            if (server != null) {
                server.destroy();
                server.waitFor();
            }
            if (emulator != null) {
                emulator.close();
            }
            if (fake != null) {
                fake.close();
                device.release();
            }
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
        }
    }

    private static long measure(DeviceIoOps ops, int region, int calls) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        // Warm up the JIT on the same path first.
        for (int i = 0; i < Math.max(20_000, calls); i++) {
            b.clear();
            ops.regionRead(region, 0, b);
        }
        long[] t = new long[calls];
        for (int i = 0; i < calls; i++) {
            b.clear();
            long t0 = System.nanoTime();
            ops.regionRead(region, 0, b);
            t[i] = System.nanoTime() - t0;
        }
        Arrays.sort(t);
        System.out.printf("java-client p10_ns=%d p90_ns=%d p99_ns=%d%n", t[calls / 10], t[calls * 9 / 10],
                t[calls * 99 / 100]);
        return t[calls / 2];
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    private static long median(String line) {
        int at = line.indexOf("median_ns=");
        return Long.parseLong(line.substring(at + 10).split("\\s")[0]);
    }
}
