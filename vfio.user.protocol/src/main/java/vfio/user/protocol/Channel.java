package vfio.user.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import vfio.posix.Fd;
import vfio.posix.UnixSocket;

/**
 * Frames vfio-user messages on a connected UNIX socket. Any number of threads may {@link #send}
 * (messages are never interleaved); one thread at a time may {@link #receive}.
 *
 * <p>Receiving reads ahead into an inbox, so a message usually costs one recvmsg and several
 * small messages that arrived together cost one between them.
 *
 * <p>Receiving is strict: a header announcing more than the allowed size, more descriptors than
 * allowed, or a message whose bytes stop arriving mid-way (a slowloris) is a {@link
 * ProtocolException}, after which the caller must close the channel: the stream position is lost.
 */
public final class Channel implements AutoCloseable {
    private static final int SMALL = 4096;
    private static final int INBOX = 16384;
    private static final ThreadLocal<ByteBuffer> SEND_BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(SMALL));

    private final UnixSocket socket;
    private final String peer;
    private final Object sendLock = new Object();
    /** Received bytes not yet framed (position to limit): one recvmsg often brings several messages. */
    private final ByteBuffer inbox = ByteBuffer.allocateDirect(INBOX).flip();
    /** Stream offset of the inbox's first unread byte: bytes framed so far. */
    private long consumed;
    /** Descriptors received for messages not yet framed, oldest first; guards {@link #closed}. */
    private final ArrayDeque<FdBatch> pendingFds = new ArrayDeque<>(0);
    private boolean closed;

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
        if (idleTimeoutMs >= 0 && !inbox.hasRemaining() && !socket.awaitReadable(idleTimeoutMs)) {
            return null;
        }
        long start = consumed;
        long deadline = 0;
        try {
            while (inbox.remaining() < Header.SIZE) {
                if (inbox.hasRemaining()) {
                    deadline = awaitRest(deadline, messageTimeoutMs, "header");
                }
                if (fill(maxFds) == 0) {
                    if (!inbox.hasRemaining()) {
                        throw new EOFException(peer + " closed the connection");
                    }
                    throw new ProtocolException(peer + " closed the connection in the middle of a message header");
                }
            }
            Header header = Header.decode(inbox, maxSize);
            ByteBuffer body = ByteBuffer.allocate(header.bodySize());
            int buffered = Math.min(body.remaining(), inbox.remaining());
            body.put(inbox.slice().limit(buffered));
            inbox.position(inbox.position() + buffered);
            consumed += Header.SIZE + buffered;
            while (body.hasRemaining()) {
                // The rest of a large body goes straight into it: no read ever takes the next message.
                List<Fd> fds = new ArrayList<>(0);
                int before = body.position();
                int n;
                try {
                    n = socket.receiveIfReady(body, fds, maxFds);
                    if (n < 0) {
                        deadline = awaitRest(deadline, messageTimeoutMs, header.toString());
                        n = socket.receive(body, fds, maxFds);
                    }
                } finally {
                    arrived(fds, consumed + (body.position() - before) - 1);
                }
                if (n == 0) {
                    throw new ProtocolException(peer + " closed the connection after " + body.position() + " of "
                            + header.bodySize() + " body bytes of " + header);
                }
                consumed += n;
            }
            return new Message(header, body.flip(), fdsOf(start, consumed, maxFds));
        } catch (vfio.posix.ErrnoException e) {
            closeArrived(); // the stream position is lost: no later message may claim them
            if (e.errno() == vfio.posix.Errno.EMSGSIZE) {
                throw new ProtocolException(peer + " sent more file descriptors than the " + maxFds + " allowed");
            }
            throw e;
        } catch (IOException | RuntimeException e) {
            closeArrived();
            throw e;
        }
    }

    /**
     * One recvmsg into the inbox's free space.
     *
     * <p>Descriptors: Linux ends a stream read right after the segment that carried descriptors, and
     * senders attach them to a message's first bytes in the same sendmsg as the rest of that write.
     * So descriptors belong to the message that holds the last byte of the read that brought them.
     *
     * @return bytes read, 0 at end of stream
     */
    private int fill(int maxFds) throws IOException {
        List<Fd> fds = new ArrayList<>(0);
        inbox.compact();
        try {
            return socket.receive(inbox, fds, maxFds);
        } finally {
            inbox.flip();
            arrived(fds, consumed + inbox.remaining() - 1);
        }
    }

    /** Keeps descriptors a read brought until their message is framed (or closes them, once closed). */
    private void arrived(List<Fd> fds, long lastByte) {
        if (fds.isEmpty()) {
            return;
        }
        synchronized (pendingFds) {
            if (closed) {
                fds.forEach(Fd::close);
            } else {
                pendingFds.add(new FdBatch(lastByte, fds));
            }
        }
    }

    /** The descriptors that belong to the message at stream bytes [start, end). */
    private List<Fd> fdsOf(long start, long end, int maxFds) throws ProtocolException {
        List<Fd> fds = new ArrayList<>(0);
        synchronized (pendingFds) {
            while (!pendingFds.isEmpty() && pendingFds.peekFirst().lastByte() < end) {
                FdBatch b = pendingFds.removeFirst();
                fds.addAll(b.fds());
                if (b.lastByte() < start) {
                    fds.forEach(Fd::close);
                    throw new ProtocolException(peer + " sent file descriptors that belong to no message");
                }
            }
        }
        if (fds.size() > maxFds) {
            fds.forEach(Fd::close);
            throw new ProtocolException(peer + " sent more file descriptors than the " + maxFds + " allowed");
        }
        return fds;
    }

    private void closeArrived() {
        synchronized (pendingFds) {
            pendingFds.forEach(b -> b.fds().forEach(Fd::close));
            pendingFds.clear();
        }
    }

    /** Descriptors from one read, and the stream offset of that read's last byte. */
    private record FdBatch(long lastByte, List<Fd> fds) {
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

    /** Shuts down and closes the socket, and any descriptors received for no message yet. Idempotent. */
    @Override
    public void close() {
        socket.shutdown();
        socket.close();
        synchronized (pendingFds) {
            closed = true;
        }
        closeArrived();
    }
}
