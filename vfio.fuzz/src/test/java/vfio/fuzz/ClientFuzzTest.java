package vfio.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceInfo;
import vfio.backend.user.internal.VfioUserBackendFactory;
import vfio.posix.UnixServerSocket;
import vfio.posix.UnixSocket;
import vfio.user.protocol.Channel;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;

/**
 * The vfio-user client ({@code vfio.backend.user}) against a server whose replies are fuzzer bytes,
 * over a real UNIX socket. The server answers each request with a scripted step: a reply with the
 * request's id and a fuzzed body, a reply with fuzzed header fields, an error reply, or raw bytes
 * (which may be a server command such as DMA_READ, or a broken frame); when the script ends it
 * closes the connection. The client opens the device and queries device, region and IRQ info and
 * reads a register.
 *
 * <p>Allowed: {@code DeviceException}s. Findings: any other exception, an execution that takes
 * longer than 10 s (request timeout 200 ms), a descriptor or a client thread left behind.
 */
class ClientFuzzTest {
    private static final String GOOD_VERSION = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}";
    private static final ExecutorService RUNNER = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fuzz runner");
        t.setDaemon(true);
        return t;
    });
    private static final VfioUserBackendFactory FACTORY = new VfioUserBackendFactory(Duration.ofMillis(500), List.of(),
            1 << 20, true, false);
    static {
        // Each refused reply is logged as a warning; thousands of them would drown the output.
        java.util.logging.Logger.getLogger("vfio.backend.user").setLevel(java.util.logging.Level.SEVERE);
    }

    private static Path directory;
    private static int sockets;

    /** One step of the scripted server. */
    private record Step(int kind, int field, byte[] bytes) {
    }

    @FuzzTest(maxDuration = "20s")
    void serverReplies(byte[] input) throws Exception {
        // Script: u8 (bit 0: answer VERSION properly), u8 region to read, then steps of u8 kind
        // (0 reply, 1 reply with fuzzed command/flags, 2 error reply, 3 raw bytes), u32 field, run bytes.
        Script data = new Script(input);
        boolean goodVersion = (data.u8() & 1) != 0;
        int region = data.u8() % 10;
        List<Step> script = new ArrayList<>();
        for (int i = 0; i < 8 && data.more(); i++) {
            script.add(new Step(data.u8() & 3, data.u32(), data.run()));
        }

        if (directory == null) {
            directory = Files.createTempDirectory("vfio-fuzz-client");
            directory.toFile().deleteOnExit();
        }
        Path path = directory.resolve("s" + (sockets++ % 4));
        Files.deleteIfExists(path);
        long fds = Leaks.openFds();
        try (UnixServerSocket listener = UnixServerSocket.listen(path, 1)) {
            Future<?> server = RUNNER.submit(() -> serve(listener, goodVersion, script));
            Future<?> client = RUNNER.submit(() -> {
                Findings.refusalAllowed(() -> useDevice(path, region));
                return null;
            });
            await(client, "the client");
            await(server, "the scripted server");
        } finally {
            Files.deleteIfExists(path);
        }
        Leaks.assertNoThreads("vfio-user fuzz", "closing the device");
        Leaks.assertFdsBackTo(fds, "an execution");
    }

    private static void await(Future<?> f, String what) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new AssertionError(what + " hung for 10 s (request timeout 200 ms)");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception x) {
                throw x;
            }
            throw (Error) e.getCause();
        }
    }

    /**
     * The harness itself: the hand-written happy-path seed gets through VERSION, device, region and
     * IRQ info to a register read that returns the scripted value (a harness that stopped at the
     * handshake would fuzz nothing deeper).
     */
    @Test
    void theHappyPathSeedReachesARegisterRead() throws Exception {
        byte[] seed;
        try (var in = ClientFuzzTest.class.getResourceAsStream("ClientFuzzTestInputs/serverReplies/happy-path")) {
            seed = in.readAllBytes();
        }
        Script data = new Script(seed);
        boolean goodVersion = (data.u8() & 1) != 0;
        int region = data.u8() % 10;
        List<Step> script = new ArrayList<>();
        while (data.more()) {
            script.add(new Step(data.u8() & 3, data.u32(), data.run()));
        }
        if (directory == null) {
            directory = Files.createTempDirectory("vfio-fuzz-client");
        }
        Path path = directory.resolve("happy");
        Files.deleteIfExists(path);
        try (UnixServerSocket listener = UnixServerSocket.listen(path, 1)) {
            Future<?> server = RUNNER.submit(() -> serve(listener, goodVersion, script));
            assertThat(RUNNER.submit(() -> useDevice(path, region)).get(10, TimeUnit.SECONDS)).isEqualTo(0x12345678L);
            server.get(10, TimeUnit.SECONDS);
        } finally {
            Files.deleteIfExists(path);
        }
    }

    /** @return the value read from {@code region} at offset 0, or -1 if the device has no such region */
    private static long useDevice(Path path, int region) {
        DeviceIoOps d = FACTORY.open(new OpenRequest("fuzz", "vfio-user:" + path, Duration.ofMillis(200), Map.of()));
        try {
            DeviceInfo info = d.deviceInfo();
            for (int i = 0; i < Math.min(info.numRegions(), 3); i++) {
                d.regionInfo(i);
            }
            if (info.numIrqs() > 0) {
                d.irqInfo(0);
            }
            if (region < info.numRegions()) {
                ByteBuffer value = ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                d.regionRead(region, 0, value);
                return Integer.toUnsignedLong(value.getInt(0));
            }
            return -1;
        } finally {
            d.close();
        }
    }

    /** Serves one client with the script, then closes the connection. */
    private static Void serve(UnixServerSocket listener, boolean goodVersion, List<Step> script) throws IOException {
        UnixSocket s = listener.accept(5000);
        if (s == null) {
            return null; // the client gave up before connecting (e.g. refused the address)
        }
        try (Channel c = new Channel(s, "fuzzed client")) {
            int next = 0;
            boolean first = true;
            while (true) {
                Message request;
                try {
                    request = c.receive(2000, 2000, 64 << 20, 253);
                } catch (IOException e) {
                    return null; // the client closed or broke the connection: both are its right
                }
                if (request == null) {
                    return null;
                }
                try (request) {
                    Header h = request.header();
                    if (first && goodVersion) {
                        byte[] json = GOOD_VERSION.getBytes(StandardCharsets.UTF_8);
                        ByteBuffer body = ByteBuffer.allocate(4 + json.length + 1).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                        body.putShort((short) 0).putShort((short) 1).put(json).put((byte) 0).flip();
                        c.send(Header.reply(h, body.remaining()), body, new int[0]);
                        first = false;
                        continue;
                    }
                    first = false;
                    if (h.noReply()) {
                        continue;
                    }
                    if (next == script.size()) {
                        return null; // closing: the client must notice within its timeout
                    }
                    Step step = script.get(next++);
                    ByteBuffer body = ByteBuffer.wrap(step.bytes());
                    try {
                        switch (step.kind()) {
                            case 0 -> c.send(Header.reply(h, body.remaining()), body, new int[0]);
                            case 1 -> c.send(new Header(h.id(), step.field() & 0xffff, Header.SIZE + body.remaining(),
                                    step.field() >>> 16, 0), body, new int[0]);
                            case 2 -> c.send(Header.errorReply(h, step.field()), null, new int[0]);
                            default -> s.send(body, new int[0]);
                        }
                    } catch (IOException e) {
                        return null; // the client already left
                    }
                }
            }
        }
    }
}
