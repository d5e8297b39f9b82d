package vfio.user.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import vfio.posix.Fd;
import vfio.posix.UnixSocket;

/**
 * Frames vfio-user messages on a connected UNIX socket. Any number of threads may {@link #send}
 * (messages are never interleaved); one thread at a time may {@link #receive}.
 *
 * <p>Receiving is strict: a header announcing more than the allowed size, more descriptors than
 * allowed, or a message whose bytes stop arriving mid-way (a slowloris) is a {@link
 * ProtocolException}, after which the caller must close the channel: the stream position is lost.
 */
public final class Channel implements AutoCloseable {
    private static final int SMALL = 4096;
    private static final ThreadLocal<ByteBuffer> SEND_BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(SMALL));

    private final UnixSocket socket;
    private final String peer;
    private final Object sendLock = new Object();
    private final ByteBuffer headerBuffer = ByteBuffer.allocateDirect(Header.SIZE);

    /**
     * @param socket the connection, now owned by this channel
     * @param peer   a name for messages ("server /run/edu.sock")
     */
    public Channel(UnixSocket socket, String peer) {
        this.socket = socket;
        this.peer = peer;
    }

    /** @return the peer's name, as given */
    public String peer() {
        return peer;
    }

    /**
     * Sends one message; descriptors travel with its first bytes.
     *
     * @param body the body (from its position to its limit), or null for none; must match
     *             {@code header.bodySize()}
     * @param fds  descriptors to pass (not closed), possibly empty
     */
    public void send(Header header, ByteBuffer body, int[] fds) throws IOException {
        int bodySize = body == null ? 0 : body.remaining();
        if (bodySize != header.bodySize()) {
            throw new IllegalArgumentException("header announces " + header.bodySize() + " body bytes, body has " + bodySize);
        }
        synchronized (sendLock) {
            if (Header.SIZE + bodySize <= SMALL) {
                // One sendmsg for the whole message: fewer syscalls on the hot path.
                ByteBuffer out = SEND_BUFFER.get().clear();
                header.encode(out);
                if (body != null) {
                    out.put(body.duplicate());
                }
                socket.send(out.flip(), fds);
            } else {
                ByteBuffer h = ByteBuffer.allocate(Header.SIZE);
                header.encode(h);
                socket.send(h.flip(), fds);
                socket.send(body.duplicate(), new int[0]);
            }
        }
    }

    /**
     * Receives one message.
     *
     * @param idleTimeoutMs    how long to wait for the first byte; -1 forever
     * @param messageTimeoutMs how long the rest of a started message may take to arrive
     * @param maxSize          largest message accepted, header included
     * @param maxFds           most descriptors accepted with one message
     * @return the message (owned by the caller), or null if nothing arrived within {@code idleTimeoutMs}
     * @throws EOFException      if the peer closed the connection between messages
     * @throws ProtocolException if the peer broke the framing rules (the channel must be closed)
     * @throws IOException       on a socket error
     */
    public Message receive(int idleTimeoutMs, int messageTimeoutMs, int maxSize, int maxFds) throws IOException {
        if (idleTimeoutMs >= 0 && !socket.awaitReadable(idleTimeoutMs)) {
            return null;
        }
        List<Fd> fds = new ArrayList<>(0);
        boolean ok = false;
        try {
            ByteBuffer h = headerBuffer.clear();
            long deadline = 0;
            while (h.hasRemaining()) {
                if (h.position() > 0) {
                    deadline = awaitRest(deadline, messageTimeoutMs, "header");
                }
                if (socket.receive(h, fds, maxFds - fds.size()) == 0) {
                    if (h.position() == 0) {
                        throw new EOFException(peer + " closed the connection");
                    }
                    throw new ProtocolException(peer + " closed the connection in the middle of a message header");
                }
            }
            Header header = Header.decode(h.flip(), maxSize);
            ByteBuffer body = ByteBuffer.allocate(header.bodySize());
            while (body.hasRemaining()) {
                // The body usually arrived with the header: read first, poll only if nothing is there.
                int n = socket.receiveIfReady(body, fds, Math.max(0, maxFds - fds.size()));
                if (n < 0) {
                    deadline = awaitRest(deadline, messageTimeoutMs, header.toString());
                    n = socket.receive(body, fds, Math.max(0, maxFds - fds.size()));
                }
                if (n == 0) {
                    throw new ProtocolException(peer + " closed the connection after " + body.position() + " of "
                            + header.bodySize() + " body bytes of " + header);
                }
            }
            ok = true;
            return new Message(header, body.flip(), fds);
        } catch (vfio.posix.ErrnoException e) {
            if (e.errno() == vfio.posix.Errno.EMSGSIZE) {
                throw new ProtocolException(peer + " sent more file descriptors than the " + maxFds + " allowed");
            }
            throw e;
        } finally {
            if (!ok) {
                fds.forEach(Fd::close);
            }
        }
    }

    private long awaitRest(long deadline, int timeoutMs, String what) throws IOException {
        long now = System.nanoTime();
        long d = deadline == 0 ? now + timeoutMs * 1_000_000L : deadline;
        long left = (d - now) / 1_000_000L;
        if (left <= 0 || !socket.awaitReadable((int) Math.min(left, Integer.MAX_VALUE))) {
            throw new ProtocolException(peer + " stopped sending in the middle of " + what + " for more than "
                    + timeoutMs + " ms");
        }
        return d;
    }

    /** Wakes a thread blocked in {@link #receive} (it sees end of stream). Idempotent. */
    public void shutdown() {
        socket.shutdown();
    }

    /** Shuts down and closes the socket. Idempotent. */
    @Override
    public void close() {
        socket.shutdown();
        socket.close();
    }
}
