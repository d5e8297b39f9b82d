package vfio.user.server.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.ReceivedSockets;
import vfio.posix.UnixSocket;
import vfio.user.protocol.Capabilities;
import vfio.user.protocol.Channel;
import vfio.user.protocol.Command;
import vfio.user.protocol.DmaAccess;
import vfio.user.protocol.DmaMap;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.protocol.RegionAccess;
import vfio.user.protocol.SetIrqs;
import vfio.user.protocol.VersionPayload;

/**
 * A minimal vfio-user client for tests, built on raw {@link Channel} calls. It answers the
 * server's DMA_READ/DMA_WRITE from a byte array ("guest memory" at {@link #memoryBase}) while it
 * waits for its own replies. Single-threaded: one caller at a time.
 */
public final class TestClient implements AutoCloseable {
    public static final int TIMEOUT_MS = 5000;
    private static final int MAX_MESSAGE = 16 + 16 + (4 << 20);

    private final Channel channel;
    private final AtomicInteger ids = new AtomicInteger(1);
    /** Client memory served to DMA_READ/DMA_WRITE. */
    public final byte[] memory;
    public final long memoryBase;
    /** When set, DMA requests are answered with this errno. */
    public volatile int refuseDmaWith;
    /** When set, DMA requests are not answered at all. */
    public volatile boolean ignoreDma;
    public final AtomicInteger dmaReadsServed = new AtomicInteger();
    public final AtomicInteger dmaWritesServed = new AtomicInteger();
    private Capabilities capabilities;
    private volatile Channel twin;

    private TestClient(UnixSocket socket, long memoryBase, int memorySize) {
        this.channel = new Channel(socket, "test server");
        this.memoryBase = memoryBase;
        this.memory = new byte[memorySize];
    }

    /** Connects, retrying while the socket does not exist or refuses (a server starting up). */
    public static TestClient connect(Path socket) throws IOException {
        return connect(socket, 0x100000, 64 * 1024);
    }

    public static TestClient connect(Path socket, long memoryBase, int memorySize) throws IOException {
        long deadline = System.nanoTime() + TIMEOUT_MS * 1_000_000L;
        while (true) {
            try {
                return new TestClient(UnixSocket.connect(socket), memoryBase, memorySize);
            } catch (ErrnoException e) {
                if (e.errno() != Errno.ENOENT && e.errno() != Errno.ECONNREFUSED || System.nanoTime() > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException(ie);
                }
            }
        }
    }

    /** Connects and negotiates with the given capabilities JSON (null for none). */
    public static TestClient open(Path socket, String json) throws IOException {
        TestClient c = connect(socket);
        try {
            c.negotiate(json);
            return c;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** @return the capabilities the server answered */
    public Capabilities negotiate(String json) throws IOException {
        byte[] j = json == null ? new byte[0] : (json + "\0").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ByteBuffer body = le(4 + j.length).putShort((short) VersionPayload.MAJOR).putShort((short) VersionPayload.MINOR)
                .put(j).flip();
        try (Message reply = call(Command.VERSION, body)) {
            check(reply);
            VersionPayload v = VersionPayload.decode(reply.body());
            capabilities = v.capabilities();
            List<Fd> fds = reply.takeFds();
            if (capabilities.twinSocket().map(Capabilities.TwinSocket::supported).orElse(false)) {
                int index = capabilities.twinSocket().get().fdIndex();
                if (index >= fds.size()) {
                    fds.forEach(Fd::close);
                    throw new IOException("the server offered a twin socket at fd index " + index + " but sent "
                            + fds.size() + " descriptors");
                }
                twin = new Channel(ReceivedSockets.adopt(fds.remove(index)), "test server (twin)");
                Thread server = new Thread(this::serveTwin, "test-client-twin");
                server.setDaemon(true);
                server.start();
            }
            fds.forEach(Fd::close);
            return capabilities;
        }
    }

    /** Answers the server's DMA commands on the twin socket until it closes. */
    private void serveTwin() {
        try {
            while (true) {
                Message m = twin.receive(-1, TIMEOUT_MS, MAX_MESSAGE, 0);
                serve(m, twin);
            }
        } catch (IOException e) {
            // the session ended
        }
    }

    /** @return whether DMA commands come on a twin socket */
    public boolean hasTwinSocket() {
        return twin != null;
    }

    public Capabilities capabilities() {
        return capabilities;
    }

    public Channel channel() {
        return channel;
    }

    public static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Sends a command without waiting. @return its id */
    public int send(Command c, ByteBuffer body, boolean noReply, int... fds) throws IOException {
        int id = ids.getAndIncrement() & 0xffff;
        int size = body == null ? 0 : body.remaining();
        channel.send(Header.command(id, c, size, noReply), body, fds);
        return id;
    }

    /** Sends a command and returns its reply (serving DMA requests meanwhile). */
    public Message call(Command c, ByteBuffer body, int... fds) throws IOException {
        int id = send(c, body, false, fds);
        return awaitReply(id, c);
    }

    /** Waits for the reply to {@code id}, serving server commands that arrive first. */
    public Message awaitReply(int id, Command c) throws IOException {
        while (true) {
            Message m = receive();
            if (m == null) {
                throw new IOException("no reply to " + c + " id " + id + " within " + TIMEOUT_MS + " ms");
            }
            if (!m.header().isReply()) {
                serve(m);
                continue;
            }
            if (m.header().id() != id || m.header().command() != c.code()) {
                m.close();
                throw new IOException("expected the reply to " + c + " id " + id + ", got " + m.header());
            }
            return m;
        }
    }

    /** @return the next message, or null after {@link #TIMEOUT_MS} */
    public Message receive() throws IOException {
        return channel.receive(TIMEOUT_MS, TIMEOUT_MS, MAX_MESSAGE, 8);
    }

    /** Answers one DMA_READ/DMA_WRITE from the server. */
    public void serve(Message m) throws IOException {
        serve(m, channel);
    }

    private void serve(Message m, Channel channel) throws IOException {
        try (m) {
            Header h = m.header();
            if (ignoreDma) {
                return;
            }
            ByteBuffer body = m.body();
            DmaAccess a = DmaAccess.decode(body, 16 << 20, "server DMA");
            long off = a.address() - memoryBase;
            boolean inside = off >= 0 && off + a.count() <= memory.length;
            if (refuseDmaWith != 0 || !inside) {
                channel.send(Header.errorReply(h, refuseDmaWith != 0 ? refuseDmaWith : Errno.EFAULT), null, new int[0]);
                return;
            }
            if (h.command() == Command.DMA_READ.code()) {
                ByteBuffer out = le(16 + (int) a.count());
                a.encode(out);
                out.position(16);
                out.put(memory, (int) off, (int) a.count());
                dmaReadsServed.incrementAndGet(); // before the reply: the server may be waiting only for it
                channel.send(Header.reply(h, out.limit()), out.flip(), new int[0]);
            } else if (h.command() == Command.DMA_WRITE.code()) {
                body.position(16);
                body.get(memory, (int) off, (int) a.count());
                ByteBuffer out = le(16);
                a.encode(out);
                dmaWritesServed.incrementAndGet();
                channel.send(Header.reply(h, 16), out.flip(), new int[0]);
            } else {
                throw new IOException("the server sent an unexpected command " + h);
            }
        }
    }

    /** @throws IOException naming the errno if {@code reply} is an error */
    public static void check(Message reply) throws IOException {
        if (reply.header().isError()) {
            throw new ErrnoException(reply.header().toString(), reply.header().error(), "error reply");
        }
    }

    /** @return the errno of an error reply, 0 for success (the message is closed) */
    public int errnoOf(Command c, ByteBuffer body, int... fds) throws IOException {
        try (Message reply = call(c, body, fds)) {
            return reply.header().isError() ? reply.header().error() : 0;
        }
    }

    public byte[] regionRead(int region, long offset, int count) throws IOException {
        ByteBuffer body = le(RegionAccess.SIZE);
        new RegionAccess(offset, region, count).encode(body);
        try (Message reply = call(Command.REGION_READ, body.flip())) {
            check(reply);
            ByteBuffer b = reply.body();
            RegionAccess a = RegionAccess.decode(b, 16 << 20, "REGION_READ reply");
            if (a.count() != count || b.remaining() != count) {
                throw new IOException("REGION_READ reply has " + b.remaining() + " bytes for count " + a.count());
            }
            byte[] out = new byte[count];
            b.get(out);
            return out;
        }
    }

    public static ByteBuffer regionWriteBody(int region, long offset, byte[] data) {
        ByteBuffer body = le(RegionAccess.SIZE + data.length);
        new RegionAccess(offset, region, data.length).encode(body);
        body.position(RegionAccess.SIZE);
        return body.put(data).flip();
    }

    public void regionWrite(int region, long offset, byte[] data) throws IOException {
        try (Message reply = call(Command.REGION_WRITE, regionWriteBody(region, offset, data))) {
            check(reply);
        }
    }

    public long read(int region, long offset, int size) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(regionRead(region, offset, size)).order(ByteOrder.LITTLE_ENDIAN);
        return switch (size) {
            case 1 -> b.get() & 0xffL;
            case 2 -> b.getShort() & 0xffffL;
            case 4 -> b.getInt() & 0xffffffffL;
            default -> b.getLong();
        };
    }

    public void write(int region, long offset, int size, long value) throws IOException {
        ByteBuffer b = le(8).putLong(value);
        byte[] data = new byte[size];
        b.flip().get(data);
        regionWrite(region, offset, data);
    }

    public static ByteBuffer setIrqsBody(int flags, int index, int start, int count, byte[] data) {
        ByteBuffer b = le(SetIrqs.SIZE + (data == null ? 0 : data.length));
        new SetIrqs(b.capacity(), flags, index, start, count).encode(b);
        b.position(SetIrqs.SIZE);
        if (data != null) {
            b.put(data);
        }
        return b.flip();
    }

    /** DEVICE_SET_IRQS; @return the errno, 0 on success */
    public int setIrqs(int flags, int index, int start, int count, int... fds) throws IOException {
        return errnoOf(Command.DEVICE_SET_IRQS, setIrqsBody(flags, index, start, count, null), fds);
    }

    /** DMA_MAP; @return the errno, 0 on success */
    public int dmaMap(int flags, long offset, long address, long size, int... fds) throws IOException {
        return errnoOf(Command.DMA_MAP, new DmaMap(flags, offset, address, size).encode(), fds);
    }

    /** DEVICE_GET_REGION_INFO with {@code argsz}; the reply's fds are handed over in {@code fds}. */
    public ByteBuffer regionInfo(int index, int argsz, List<Fd> fds) throws IOException {
        ByteBuffer body = le(32).putInt(argsz).putInt(0).putInt(index).flip();
        body.limit(32);
        try (Message reply = call(Command.DEVICE_GET_REGION_INFO, body)) {
            check(reply);
            fds.addAll(reply.takeFds());
            return reply.body();
        }
    }

    public List<Fd> noFds() {
        return new ArrayList<>();
    }

    @Override
    public void close() {
        channel.close();
        Channel t = twin;
        if (t != null) {
            t.close();
        }
    }
}
