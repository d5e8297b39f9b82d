package vfio.backend.user.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.List;
import vfio.posix.UnixServerSocket;
import vfio.posix.UnixSocket;
import vfio.user.protocol.Channel;
import vfio.user.protocol.Command;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;

/**
 * A scripted vfio-user server for tests: listens on a real UNIX socket and hands every client message
 * to a {@link Responder}, which answers through a {@link Peer} (well-formed replies, or raw bytes for
 * hostile tests). Serves one client at a time and stays up for the next one.
 */
public final class FakeServer implements AutoCloseable {
    /** Answers one client message. */
    @FunctionalInterface
    public interface Responder {
        void respond(Peer peer, Message request) throws Exception;
    }

    private final UnixServerSocket listener;
    private final Thread thread;
    private final Responder responder;
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private volatile Peer current;
    private volatile boolean closed;
    private volatile int connections;

    private FakeServer(Path path, Responder responder) throws IOException {
        this.listener = UnixServerSocket.listen(path, 4);
        this.responder = responder;
        this.thread = new Thread(this::run, "fake vfio-user server " + path.getFileName());
        this.thread.setDaemon(true);
        this.thread.start();
    }

    public static FakeServer start(Path path, Responder responder) throws IOException {
        return new FakeServer(path, responder);
    }

    /** @return the socket path */
    public Path path() {
        return listener.path();
    }

    /** @return the address a client uses */
    public String address() {
        return "vfio-user:" + listener.path();
    }

    /** @return how many clients have connected so far */
    public int connections() {
        return connections;
    }

    /** @return failures of the responder (a test asserts this is empty) */
    public List<Throwable> errors() {
        return errors;
    }

    /** @return the current client connection, or null */
    public Peer peer() {
        return current;
    }

    private void run() {
        while (!closed) {
            UnixSocket s;
            try {
                s = listener.accept(100);
            } catch (IOException e) {
                if (!closed) {
                    errors.add(e);
                }
                return;
            }
            if (s == null) {
                continue;
            }
            connections++;
            Peer p = new Peer(s);
            current = p;
            try {
                while (!closed && !p.dropped) {
                    Message m = p.next();
                    try (m) {
                        responder.respond(p, m);
                    }
                }
            } catch (EOFException e) {
                // client left
            } catch (Throwable e) {
                if (!closed && !p.dropped) {
                    errors.add(e);
                }
            } finally {
                p.close();
                current = null;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        Peer p = current;
        if (p != null) {
            p.close();
        }
        listener.close();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One client connection, seen from the server. */
    public static final class Peer {
        private final UnixSocket socket;
        private final Channel channel;
        private final Deque<Message> backlog = new ArrayDeque<>();
        private int nextId = 0x8000; // server ids deliberately overlap client ids now and then
        private volatile Channel twin;
        volatile boolean dropped;

        Peer(UnixSocket socket) {
            this.socket = socket;
            this.channel = new Channel(socket, "client");
        }

        Message next() throws IOException {
            Message m = backlog.poll();
            return m != null ? m : channel.receive(-1, 5000, 64 << 20, 253);
        }

        /** Sends a success reply to {@code request}. */
        public void reply(Message request, ByteBuffer body, int... fds) throws IOException {
            int n = body == null ? 0 : body.remaining();
            channel.send(Header.reply(request.header(), n), body, fds);
        }

        /** Sends an error reply carrying {@code errno}. */
        public void error(Message request, int errno) throws IOException {
            channel.send(Header.errorReply(request.header(), errno), null, new int[0]);
        }

        /** Sends any message. */
        public void send(Header header, ByteBuffer body, int... fds) throws IOException {
            channel.send(header, body, fds);
        }

        /** Writes raw bytes (possibly a broken message). */
        public void raw(ByteBuffer bytes, int... fds) throws IOException {
            socket.send(bytes, fds);
        }

        /** Switches to twin-socket mode: server commands go on {@code serverEnd} from now on. */
        public void twin(UnixSocket serverEnd) {
            twin = new Channel(serverEnd, "client (twin)");
        }

        /** @return the twin socket's channel, or null in single-socket mode */
        public Channel twin() {
            return twin;
        }

        /**
         * Sends a server command and waits for the client's reply to it (on the twin socket in
         * twin-socket mode), queueing client commands that arrive meanwhile.
         */
        public Message command(Command c, ByteBuffer body) throws IOException {
            int id = nextId++ & 0xffff;
            Channel on = twin != null ? twin : channel;
            on.send(Header.command(id, c, body == null ? 0 : body.remaining(), false), body, new int[0]);
            while (true) {
                Message m = on.receive(5000, 5000, 64 << 20, 253);
                if (m == null) {
                    throw new IOException("client did not answer " + c);
                }
                if (m.header().isReply() && m.header().id() == id && m.header().command() == c.code()) {
                    return m;
                }
                backlog.add(m);
            }
        }

        /** Closes the connection (the client sees end of stream). */
        public void close() {
            dropped = true;
            channel.close();
            if (twin != null) {
                twin.close();
            }
            backlog.forEach(Message::close);
            backlog.clear();
        }

        /** Shuts down the connection without closing the descriptor. */
        public void hangUp() {
            dropped = true;
            socket.shutdown();
        }
    }

    /** @return a little-endian buffer of {@code size} bytes */
    public static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
}
