package vfio.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.posix.UnixSocket;
import vfio.user.protocol.Channel;
import vfio.user.protocol.Command;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.server.Bar;
import vfio.user.server.PciDevice;
import vfio.user.server.RegionHandler;
import vfio.user.server.VfioUserServer;

/**
 * The vfio-user server library ({@code vfio.user.server}) against a client whose bytes are fuzzed,
 * over a real UNIX socket. One server (BAR0 trapped MMIO, BAR2 shared memory with a trapped hole,
 * INTx and 4 MSI vectors) serves every execution. An execution connects, optionally negotiates a
 * proper VERSION, then sends a fuzzed script (format in {@link Script} and the method): well-framed commands with fuzzed command codes,
 * flags and bodies, or raw bytes; it reads what comes back for a short while and hangs up.
 *
 * <p>Findings: the server logging an internal error (a RuntimeException escaped its decoding),
 * the server not serving a well-behaved client within 5 s after the fuzzed one left (a hang), or
 * descriptors of this process left behind.
 */
class ServerFuzzTest {
    private static final String VERSION_JSON = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}";
    private static final ConcurrentLinkedQueue<LogRecord> ERRORS = new ConcurrentLinkedQueue<>();
    private static VfioUserServer server;
    private static int nextId;

    @FuzzTest(maxDuration = "20s")
    void clientBytes(byte[] input) throws Exception {
        // Script: u8 negotiate (bit 0), then steps of u8 kind (bit 0: raw), u8 command, u8 flags, run body.
        Script data = new Script(input);
        boolean version = (data.u8() & 1) != 0;
        List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < 8 && data.more(); i++) {
            int kind = data.u8() & 1;
            int command = data.u8();
            int flags = data.u8();
            byte[] body = data.run();
            if (kind == 0) {
                ByteBuffer b = ByteBuffer.allocate(Header.SIZE + body.length).order(ByteOrder.LITTLE_ENDIAN);
                new Header(nextId++ & 0xffff, command, Header.SIZE + body.length, flags, 0).encode(b);
                frames.add(b.put(body).array());
            } else {
                frames.add(body);
            }
        }

        VfioUserServer s = server();
        long fds = Leaks.openFds();
        try (UnixSocket socket = UnixSocket.connect(s.socketPath()); Channel c = new Channel(socket, "server")) {
            try {
                if (version) {
                    c.send(Header.command(nextId++ & 0xffff, Command.VERSION, versionBody().remaining(), false),
                            versionBody(), new int[0]);
                    drain(c);
                }
                for (byte[] f : frames) {
                    if (f.length > 0) {
                        socket.send(ByteBuffer.wrap(f), new int[0]);
                    }
                    drain(c);
                }
            } catch (IOException e) {
                // The server hung up on us: its right, for a client that breaks the protocol.
            }
        }
        assertServes(s);
        if (!ERRORS.isEmpty()) {
            LogRecord r = ERRORS.poll();
            ERRORS.clear();
            throw new AssertionError("the server logged an internal error: " + r.getMessage(), r.getThrown());
        }
        Leaks.assertFdsBackTo(fds, "a fuzzed client");
    }

    /**
     * The harness itself: every command of the hand-written well-behaved seed gets a reply that is
     * not an error (a harness whose frames the server refused would fuzz only its refusals).
     */
    @Test
    void theWellBehavedSeedGetsAnAnswerToEveryCommand() throws Exception {
        byte[] seed;
        try (var in = ServerFuzzTest.class.getResourceAsStream("ServerFuzzTestInputs/clientBytes/well-behaved")) {
            seed = in.readAllBytes();
        }
        Script data = new Script(seed);
        data.u8();
        VfioUserServer s = server();
        List<String> answers = new ArrayList<>();
        try (UnixSocket socket = UnixSocket.connect(s.socketPath()); Channel c = new Channel(socket, "server")) {
            c.send(Header.command(0, Command.VERSION, versionBody().remaining(), false), versionBody(), new int[0]);
            c.receive(5000, 2000, 1 << 20, 8).close();
            for (int id = 1; data.more(); id++) {
                data.u8();
                int command = data.u8();
                int flags = data.u8();
                ByteBuffer body = ByteBuffer.wrap(data.run());
                c.send(new Header(id, command, Header.SIZE + body.remaining(), flags, 0), body, new int[0]);
                try (Message m = c.receive(5000, 2000, 1 << 20, 8)) {
                    answers.add(Command.of(command) + (m.header().isError() ? " error " + m.header().error() : " ok"));
                }
            }
        }
        assertThat(answers).hasSize(8).allSatisfy(a -> assertThat(a).endsWith(" ok"));
    }

    /** Reads whatever the server answers within 2 ms (replies, or commands it sends us). */
    private static void drain(Channel c) throws IOException {
        Message m;
        while ((m = c.receive(2, 2000, 64 << 20, 253)) != null) {
            m.close();
        }
    }

    /** A well-behaved client must be served within 5 s once the fuzzed one left. */
    private static void assertServes(VfioUserServer s) throws Exception {
        try (UnixSocket socket = UnixSocket.connect(s.socketPath()); Channel c = new Channel(socket, "server")) {
            c.send(Header.command(1, Command.VERSION, versionBody().remaining(), false), versionBody(), new int[0]);
            try (Message m = c.receive(5000, 2000, 1 << 20, 8)) {
                if (m == null || !m.header().isReply() || m.header().isError()) {
                    throw new AssertionError("the server did not answer a proper VERSION within 5 s after a fuzzed client: "
                            + m);
                }
            }
        }
    }

    private static ByteBuffer versionBody() {
        byte[] json = VERSION_JSON.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + json.length + 1).order(ByteOrder.LITTLE_ENDIAN);
        return b.putShort((short) 0).putShort((short) 1).put(json).put((byte) 0).flip();
    }

    private static synchronized VfioUserServer server() throws IOException {
        if (server == null) {
            Logger log = Logger.getLogger("vfio.user.server");
            log.setUseParentHandlers(false); // warnings about each bad client would drown the output
            log.addHandler(new Handler() {
                @Override
                public void publish(LogRecord r) {
                    if (r.getLevel().intValue() >= Level.SEVERE.intValue()) {
                        ERRORS.add(r);
                    }
                }

                @Override
                public void flush() {
                }

                @Override
                public void close() {
                }
            });
            long[] registers = new long[512];
            RegionHandler mmio = new RegionHandler() {
                @Override
                public long read(long offset, int size) {
                    return registers[(int) (offset / 8) % registers.length];
                }

                @Override
                public void write(long offset, int size, long value) {
                    registers[(int) (offset / 8) % registers.length] = value;
                }
            };
            PciDevice device = PciDevice.builder().vendorId(0x1234).deviceId(0x11e8).bar(0, Bar.mmio(4096, mmio))
                    .bar(2, Bar.sharedMemory(16384, List.of(new SparseArea(0, 4096), new SparseArea(8192, 8192)), mmio))
                    .intx().msi(4).build();
            Path dir = Files.createTempDirectory("vfio-fuzz-server");
            server = VfioUserServer.start(device, dir.resolve("fuzz.sock"));
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                device.close();
            }));
        }
        return server;
    }
}
