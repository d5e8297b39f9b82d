package vfio.backend.user.internal.transport;

import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceUnavailableException;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.ReceivedSockets;
import vfio.posix.UnixSocket;
import vfio.user.protocol.Capabilities;
import vfio.user.protocol.Channel;
import vfio.user.protocol.Command;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.protocol.ProtocolException;
import vfio.user.protocol.VersionPayload;

/**
 * One vfio-user connection, seen from the client: sends requests from any number of threads, matches
 * the server's replies to them, and serves the commands the server sends meanwhile.
 *
 * <p><b>Receive path (leader/follower).</b> There is no dedicated reader thread on the request path.
 * A caller that has sent a request and finds nobody reading the socket becomes the <em>leader</em>:
 * it reads messages itself until its own reply arrives, hands replies meant for other callers to them
 * (waking them) and serves server commands ({@code DMA_READ}/{@code DMA_WRITE}) on the spot. Other
 * callers wait as <em>followers</em>; when the leader has its reply it passes the role to a follower
 * that is still waiting. A synchronous call therefore costs one send and the reads of its own reply,
 * with no thread hand-off. A background thread reads only when no caller has read for {@link
 * #HANDOVER_NANOS} (so the server's DMA is served while the client is idle) and yields as soon as a
 * caller waits; it is also the watchdog that fails the connection when a request is overdue.
 *
 * <p><b>Twin-socket mode.</b> When offered by the client and chosen by the server, the server's
 * commands come on a socket of their own, read by a thread of their own; the main socket then
 * carries only replies, read by callers alone, and the background thread is only the watchdog.
 *
 * <p><b>Matching.</b> Replies are matched by id among this client's outstanding requests only, and
 * the command must match too; server commands have their own id space and never match a request.
 * Every request has a deadline ({@code timeout}); a reply that matches nothing, a framing violation,
 * an overdue request or the peer closing the socket <em>fails</em> the connection: every outstanding
 * and later call throws a {@link DeviceUnavailableException} with the reason, and the socket is shut
 * down. A failed connection never recovers; the owner opens a new one.
 *
 * <p><b>Threading:</b> {@link #call} and {@link #post} from any thread; {@link #close()} once, when
 * no call is in progress any more. <b>Ownership:</b> the connection owns its sockets and threads;
 * replies returned by {@link #call} are owned (and closed) by the caller.
 */
public final class Connection implements AutoCloseable {
    /**
     * How long the reader role must have been free before the background thread takes it. Callers
     * of a busy device never wait for it (they read themselves); it bounds how late a server command
     * that arrives just after the last caller left is served. Short periods make the background
     * thread wake often, which on a loaded CPU delays the callers it competes with.
     */
    static final long HANDOVER_NANOS = 10_000_000L;
    /** Longest the background reader waits in one poll before it checks deadlines again. */
    private static final int WATCH_MS = 100;
    /** Most file descriptors this client accepts with one message (what it proposes as max_msg_fds). */
    public static final int MAX_RECEIVED_FDS = 16;
    private static final int[] NO_FDS = new int[0];
    private static final Object BACKGROUND = new Object();
    private static final System.Logger LOG = System.getLogger(Connection.class.getName());

    private final Channel channel;
    private final String server;
    private final long timeoutNanos;
    private final int timeoutMs;
    private final ServerCommandHandler handler;
    private final ConcurrentHashMap<Integer, Pending> pending = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Pending> followers = new ConcurrentLinkedQueue<>();
    private final AtomicInteger nextId = new AtomicInteger();
    /** Deadlines of posted messages still being written: a server that stops reading must not block them forever. */
    private final ConcurrentHashMap<Object, Long> postsInFlight = new ConcurrentHashMap<>();
    /** Ids of recent posted (NO_REPLY) writes, so a server that answers them anyway is tolerated. */
    private final AtomicLongArray postedIds = new AtomicLongArray(65536 / 64);
    /** Who reads the socket now: null, a {@link Pending} (its caller), or {@link #BACKGROUND}. */
    private final AtomicReference<Object> reader = new AtomicReference<>();
    private final AtomicReference<DeviceUnavailableException> failure = new AtomicReference<>();
    private volatile long readerReleasedAt = System.nanoTime();
    private volatile int maxMessageSize;
    private volatile Capabilities capabilities = Capabilities.DEFAULTS;
    private volatile Thread background;
    /** The server-to-client command socket in twin-socket mode, else null. */
    private volatile Channel twin;
    private volatile Thread twinReader;

    private Connection(UnixSocket socket, Path path, Duration timeout, ServerCommandHandler handler) {
        this.server = "vfio-user server " + path;
        this.channel = new Channel(socket, server);
        this.timeoutNanos = timeout.toNanos();
        this.timeoutMs = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
        this.handler = handler;
        this.maxMessageSize = Header.SIZE + 4 + VersionPayload.MAX_JSON + 1;
    }

    /**
     * Connects, negotiates the protocol version and capabilities, and starts the background thread.
     *
     * @param path         the server's socket
     * @param deviceName   the device's name, for thread names
     * @param timeout      how long one request may wait for its reply (also the limit for a message
     *                     that stopped arriving half-way)
     * @param connectRetry how long to keep retrying while the socket does not exist yet or refuses
     *                     connections (a server creates the file at bind(), just before listen())
     * @param proposal     the capabilities this client proposes
     * @param handler      serves the server's commands
     * @return the open connection, owned by the caller
     * @throws DeviceException  if nobody accepts connections at {@code path} within {@code
     *                          connectRetry}, or the server speaks another protocol version
     * @throws BackendException if the server refused the version negotiation
     * @throws DeviceUnavailableException if the server broke the protocol or did not answer
     */
    public static Connection open(Path path, String deviceName, Duration timeout, Duration connectRetry,
            Capabilities proposal, ServerCommandHandler handler) {
        UnixSocket socket = connect(path, connectRetry);
        Connection c = new Connection(socket, path, timeout, handler);
        try {
            c.negotiate(proposal);
            String name = "vfio-user " + deviceName + " (" + path.getFileName() + ")";
            if (c.twin != null) {
                Thread r = new Thread(c::runTwin, name + " server commands");
                r.setDaemon(true);
                c.twinReader = r;
                r.start();
            }
            Thread t = new Thread(c::runBackground, name);
            t.setDaemon(true);
            c.background = t;
            t.start();
            return c;
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private static UnixSocket connect(Path path, Duration retry) {
        long deadline = System.nanoTime() + retry.toNanos();
        long pauseMs = 5;
        while (true) {
            try {
                return UnixSocket.connect(path);
            } catch (ErrnoException e) {
                boolean notYet = e.errno() == Errno.ENOENT || e.errno() == Errno.ECONNREFUSED;
                if (!notYet || System.nanoTime() - deadline >= 0) {
                    throw new DeviceException("cannot connect to vfio-user server at " + path + ": " + e.getMessage()
                            + (notYet ? " (retried for " + retry.toMillis() + " ms); start the server or fix the address"
                                    : ""), e);
                }
            }
            try {
                Thread.sleep(pauseMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DeviceException("interrupted while connecting to vfio-user server at " + path);
            }
            pauseMs = Math.min(100, pauseMs * 2);
        }
    }

    private void negotiate(Capabilities proposal) {
        ByteBuffer body = new VersionPayload(VersionPayload.MAJOR, VersionPayload.MINOR, proposal).encode();
        VersionPayload answer;
        List<Fd> fds;
        try (Message reply = call(Command.VERSION, body, NO_FDS)) {
            answer = VersionPayload.decode(reply.body());
            fds = reply.takeFds();
        } catch (ProtocolException e) {
            throw fail(server + " sent a malformed VERSION reply: " + e.getMessage(), null);
        }
        try {
            if (answer.major() != VersionPayload.MAJOR) {
                fail(server + " speaks vfio-user " + answer.major() + "." + answer.minor(), null);
                throw new DeviceException(server + " speaks vfio-user protocol version " + answer.major() + "."
                        + answer.minor() + ", this client speaks " + VersionPayload.MAJOR + "." + VersionPayload.MINOR
                        + "; use a server of the same major version");
            }
            if (answer.minor() > VersionPayload.MINOR) {
                throw fail(server + " answered minor version " + answer.minor() + " above the proposed "
                        + VersionPayload.MINOR, null);
            }
            twin = twinSocket(proposal, answer.capabilities(), fds);
        } finally {
            // Descriptors other than the twin socket are unexpected.
            for (Fd fd : fds) {
                fd.close();
            }
        }
        Capabilities theirs = answer.capabilities();
        // Never exceed what either side said: a reply may not widen the proposal.
        Capabilities agreed = new Capabilities(Math.min(proposal.maxMsgFds(), theirs.maxMsgFds()),
                Math.min(proposal.maxDataXferSize(), theirs.maxDataXferSize()),
                Math.min(proposal.maxDmaMaps(), theirs.maxDmaMaps()),
                (proposal.pgsizes() & theirs.pgsizes()) | Capabilities.DEFAULT_PGSIZES, theirs.migration(),
                twin != null ? theirs.twinSocket() : Optional.empty(),
                proposal.writeMultiple() && theirs.writeMultiple());
        capabilities = agreed;
        // Largest body: a data transfer of max_data_xfer_size (we accept our own proposal from the
        // server) or a region info of at most 1 MiB, plus fixed parts.
        maxMessageSize = Header.SIZE + 64 + Math.max(proposal.maxDataXferSize(), 1 << 20);
    }

    /**
     * Twin-socket mode: when this client offered it and the server chose it, the server passes the
     * socket of its command channel with the VERSION reply.
     *
     * @param fds the reply's descriptors; the one taken is removed from the list
     * @return the twin socket's channel, or null for single-socket mode
     */
    private Channel twinSocket(Capabilities proposal, Capabilities theirs, List<Fd> fds) {
        boolean offered = proposal.twinSocket().map(Capabilities.TwinSocket::supported).orElse(false);
        Capabilities.TwinSocket t = theirs.twinSocket().orElse(null);
        if (t == null || !t.supported()) {
            return null;
        }
        if (!offered) {
            throw fail(server + " chose twin-socket mode, which this client did not offer", null);
        }
        if (t.fdIndex() >= fds.size()) {
            // The spec: an inconsistent reply means the client cannot receive the server's commands.
            throw fail(server + " chose twin-socket mode but its VERSION reply carries " + fds.size()
                    + " descriptor(s), not one at fd_index " + t.fdIndex(), null);
        }
        Fd fd = fds.remove(t.fdIndex());
        try {
            return new Channel(ReceivedSockets.adopt(fd), server + " (twin socket)");
        } catch (ErrnoException e) {
            throw fail(server + " passed a twin socket that is not a socket: " + e.getMessage(), e);
        }
    }

    /** @return whether server commands arrive on a socket of their own (twin-socket mode) */
    public boolean twinSocket() {
        return twin != null;
    }

    /** @return the capabilities both sides agreed on; constant after {@link #open} */
    public Capabilities capabilities() {
        return capabilities;
    }

    /** @return the server's name for messages ({@code vfio-user server /run/x.sock}) */
    public String server() {
        return server;
    }

    /**
     * Sends a request and waits for its reply.
     *
     * @param command the command
     * @param body    the request body (position to limit), or null for none
     * @param fds     descriptors to send with it (not closed; the server receives duplicates)
     * @return the successful reply, owned by the caller (close it: it may carry descriptors)
     * @throws BackendException           if the server answered with an error (errno and command set)
     * @throws DeviceUnavailableException if the connection failed, now or before
     */
    public Message call(Command command, ByteBuffer body, int[] fds) {
        Pending p = register(command);
        send(p.id, command, body, fds, false, p);
        Message reply = await(p);
        Header h = reply.header();
        if (h.isError()) {
            reply.close();
            int errno = h.error();
            String name = errno == 0 ? null : Errno.name(errno);
            throw new BackendException(command.name(), errno, name != null && name.startsWith("errno ") ? null : name,
                    server + " refused the request" + (errno == 0 ? " without giving an errno" : " ("
                            + Errno.describe(errno) + ")"));
        }
        return reply;
    }

    /**
     * Sends a request that asks for no reply ({@code NO_REPLY}); returns once it is written to the
     * socket. The server handles it before any later request; a failure is not reported.
     *
     * @throws DeviceUnavailableException if the connection failed
     */
    public void post(Command command, ByteBuffer body) {
        throwIfFailed();
        int id = nextId.getAndIncrement() & 0xffff;
        postedIds.getAndUpdate(id >>> 6, bits -> bits | 1L << (id & 63));
        // No reply will come, so only the write itself can be overdue: the watchdog shuts the socket
        // down (which ends the blocked write) if the server stops reading.
        Object token = new Object();
        postsInFlight.put(token, System.nanoTime() + timeoutNanos);
        try {
            send(id, command, body, NO_FDS, true, null);
        } finally {
            postsInFlight.remove(token);
        }
    }

    /**
     * Fails the connection: every outstanding and later call throws a {@link
     * DeviceUnavailableException} with {@code reason}, and the socket is shut down. The first reason
     * wins; later calls only return it.
     *
     * @param reason a sentence naming the server and what went wrong
     * @param cause  the underlying exception, or null
     * @return the failure (to throw)
     */
    public DeviceUnavailableException fail(String reason, Throwable cause) {
        return fail(reason, cause, Level.WARNING);
    }

    private DeviceUnavailableException fail(String reason, Throwable cause, Level level) {
        DeviceUnavailableException e = new DeviceUnavailableException(reason, cause);
        if (failure.compareAndSet(null, e)) {
            LOG.log(level, "vfio-user connection failed: {0}", reason);
            channel.shutdown();
            Channel tw = twin;
            if (tw != null) {
                tw.shutdown();
            }
            for (Pending p : pending.values()) {
                if (pending.remove(p.id, p)) {
                    p.abort();
                }
            }
            for (Pending f : followers) {
                LockSupport.unpark(f.thread);
            }
            Thread t = background;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
        return failure.get();
    }

    /** @return the reason the connection failed, or null while it works */
    public String failureReason() {
        DeviceUnavailableException f = failure.get();
        return f == null ? null : f.getMessage();
    }

    /**
     * Fails outstanding calls ("closed by the client"), stops the background thread and closes the
     * socket. Idempotent; never throws.
     */
    @Override
    public void close() {
        fail("the vfio-user connection to " + server.substring("vfio-user server ".length())
                + " was closed by this client", null, Level.DEBUG);
        for (Thread t : new Thread[] {background, twinReader}) {
            if (t != null && t != Thread.currentThread()) {
                try {
                    t.join(Math.max(1000, timeoutMs));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                if (t.isAlive()) {
                    // Closing the descriptor under a thread that may still use it could hand its number
                    // to another file; leaving it open is the lesser harm.
                    LOG.log(Level.ERROR, "vfio-user thread {0} did not stop; its sockets are left open", t.getName());
                    return;
                }
            }
        }
        Channel tw = twin;
        if (tw != null) {
            tw.close();
        }
        // Only a thread that still holds the reader role (none after the join) could touch the socket.
        if (reader.get() == null || reader.get() == BACKGROUND) {
            channel.close();
        } else {
            LOG.log(Level.ERROR, "vfio-user connection closed while a call was still reading; socket left open");
        }
    }

    // ---- requests ---------------------------------------------------------------------------

    private Pending register(Command command) {
        throwIfFailed();
        Pending p = null;
        for (int tries = 0; tries < 65536; tries++) {
            int id = nextId.getAndIncrement() & 0xffff;
            Pending candidate = new Pending(id, command, System.nanoTime() + timeoutNanos, Thread.currentThread());
            if (pending.putIfAbsent(id, candidate) == null) {
                clearPosted(id);
                p = candidate;
                break;
            }
        }
        if (p == null) {
            throw new DeviceException("65536 requests to " + server + " are outstanding; no message id is free");
        }
        if (failure.get() != null) {
            // fail() may have swept the table before this entry was added.
            pending.remove(p.id, p);
            throwIfFailed();
        }
        return p;
    }

    private void send(int id, Command command, ByteBuffer body, int[] fds, boolean noReply, Pending p) {
        int size = body == null ? 0 : body.remaining();
        try {
            channel.send(Header.command(id, command, size, noReply), body, fds);
        } catch (IOException | IllegalStateException e) {
            if (p != null) {
                pending.remove(p.id, p);
            }
            throw rethrow(fail(server + " closed the connection (sending " + command + ": " + e.getMessage() + ")", e));
        }
    }

    private void throwIfFailed() {
        DeviceUnavailableException f = failure.get();
        if (f != null) {
            throw rethrow(f);
        }
    }

    /** A fresh exception for this caller's stack, carrying the connection's reason. */
    private static DeviceUnavailableException rethrow(DeviceUnavailableException f) {
        return new DeviceUnavailableException(f.getMessage(), f.getCause());
    }

    private Message await(Pending p) {
        boolean interrupted = false;
        boolean followed = false;
        try {
            while (true) {
                if (p.done) {
                    if (followed) {
                        passReaderRoleIfFree();
                    }
                    return p.result();
                }
                if (reader.compareAndSet(null, p)) {
                    try {
                        lead(p);
                    } finally {
                        releaseReader();
                    }
                    continue;
                }
                followers.add(p);
                followed = true;
                try {
                    // Re-check after publishing ourselves: a leader that released before it saw us
                    // would not wake us.
                    if (p.done || reader.get() == null) {
                        continue;
                    }
                    long left = p.deadline + timeoutNanos / 2 - System.nanoTime();
                    if (left <= 0) {
                        // The background watchdog should have failed the connection already.
                        fail(overdue(p), null);
                        continue;
                    }
                    LockSupport.parkNanos(this, left);
                    // Waits are bounded by the deadline, so an interrupt is remembered, not acted on.
                    interrupted |= Thread.interrupted();
                } finally {
                    followers.remove(p);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Reads and dispatches messages until {@code p} is answered or the connection fails. */
    private void lead(Pending p) {
        while (!p.done) {
            Message m = receive(-1);
            if (m == null) {
                return;
            }
            dispatch(m);
        }
    }

    private void releaseReader() {
        readerReleasedAt = System.nanoTime();
        reader.set(null);
        wakeOneFollower();
    }

    private void passReaderRoleIfFree() {
        if (reader.get() == null) {
            wakeOneFollower();
        }
    }

    private void wakeOneFollower() {
        for (Pending f : followers) {
            if (!f.done) {
                LockSupport.unpark(f.thread);
                return;
            }
        }
    }

    /**
     * One message, or null after failing the connection.
     *
     * @param idleMs how long to wait for the first byte; -1 blocks (the watchdog's shutdown wakes it)
     */
    private Message receive(int idleMs) {
        try {
            Message m = channel.receive(idleMs, timeoutMs, maxMessageSize, MAX_RECEIVED_FDS);
            if (m == null && idleMs < 0) {
                fail(server + " closed the connection", null, Level.INFO);
            }
            return m;
        } catch (EOFException e) {
            // A clean close, e.g. the server stopping: the core logs what it means for the device.
            fail(server + " closed the connection", e, Level.INFO);
        } catch (ProtocolException e) {
            fail(server + " broke the vfio-user protocol: " + e.getMessage(), e);
        } catch (IOException | IllegalStateException e) {
            fail(closedOrFailed(e, ""), e);
        }
        return null;
    }

    private void dispatch(Message m) {
        Header h = m.header();
        if (!h.isReply()) {
            serve(m, channel);
            return;
        }
        Pending p = pending.get(h.id());
        if (p != null && p.command.code() == h.command() && pending.remove(h.id(), p)) {
            p.complete(m);
            return;
        }
        m.close();
        if (h.command() == Command.REGION_WRITE.code() && clearPosted(h.id())) {
            if (h.isError()) {
                LOG.log(Level.WARNING, "{0}: a posted REGION_WRITE failed with {1}", server, Errno.name(h.error()));
            }
            return;
        }
        fail(server + " sent " + h + ", which answers no outstanding request of this client", null);
    }

    private boolean clearPosted(int id) {
        long bit = 1L << (id & 63);
        long before = postedIds.getAndUpdate(id >>> 6, bits -> bits & ~bit);
        return (before & bit) != 0;
    }

    private void serve(Message m, Channel on) {
        try (m) {
            Header h = m.header();
            ServerCommandHandler.Answer a;
            try {
                a = handler.handle(h, m.body());
            } catch (RuntimeException e) {
                // A bug on this side; the server still gets an answer so it does not wait forever.
                LOG.log(Level.ERROR, "serving " + h + " from " + server + " failed", e);
                a = ServerCommandHandler.Answer.error(Errno.EIO);
            }
            if (h.noReply()) {
                return;
            }
            Header reply = a.errno() != 0 ? Header.errorReply(h, a.errno()) : Header.reply(h, a.bodySize());
            on.send(reply, a.errno() != 0 ? null : a.body(), NO_FDS);
        } catch (IOException | IllegalStateException e) {
            fail(server + " closed the connection (answering " + m.header() + ": " + e.getMessage() + ")", e);
        }
    }

    // ---- background reader and watchdog -------------------------------------------------------

    private void runBackground() {
        if (twin != null) {
            // Server commands have their own socket and reader: only overdue requests need watching.
            // Later requests have later deadlines, so sleeping until the earliest one misses nothing.
            while (failure.get() == null) {
                LockSupport.parkNanos(this, Math.max(100_000L, checkDeadlines()));
            }
            return;
        }
        while (failure.get() == null) {
            long next = checkDeadlines();
            long idle = System.nanoTime() - readerReleasedAt;
            boolean free = reader.get() == null;
            if (free && idle >= HANDOVER_NANOS && reader.compareAndSet(null, BACKGROUND)) {
                try {
                    readWhileIdle();
                } finally {
                    releaseReader();
                }
            } else {
                // Sleep until the role could have been free long enough, or the next deadline.
                long wait = free ? HANDOVER_NANOS - idle : HANDOVER_NANOS;
                LockSupport.parkNanos(this, Math.max(100_000L, Math.min(wait, next)));
            }
        }
    }

    /**
     * Reads while no caller does, serving server commands. Returns as soon as callers are active (a
     * reply arrived or a caller waits), so that they read their replies themselves again.
     */
    private void readWhileIdle() {
        while (failure.get() == null) {
            long next = checkDeadlines();
            int waitMs = (int) Math.max(1, Math.min(WATCH_MS, next / 1_000_000L));
            Message m = receive(waitMs);
            if (m != null) {
                boolean reply = m.header().isReply();
                dispatch(m);
                if (reply) {
                    return;
                }
            }
            if (!followers.isEmpty()) {
                return;
            }
        }
    }

    /** A server that died with requests unread resets the connection: that is a close too. */
    private String closedOrFailed(Exception e, String which) {
        if (e instanceof ErrnoException x && (x.errno() == Errno.ECONNRESET || x.errno() == Errno.EPIPE)) {
            return server + " closed the connection" + which + " (" + x.errnoName() + ")";
        }
        return "the connection to " + server + which + " failed: " + e.getMessage();
    }

    /** Twin-socket mode: serves the server's commands from their own socket until the connection ends. */
    private void runTwin() {
        Channel tw = twin;
        while (failure.get() == null) {
            Message m;
            try {
                m = tw.receive(-1, timeoutMs, maxMessageSize, MAX_RECEIVED_FDS);
            } catch (EOFException e) {
                fail(server + " closed the connection (its twin socket)", e, Level.INFO);
                return;
            } catch (ProtocolException e) {
                fail(server + " broke the vfio-user protocol on the twin socket: " + e.getMessage(), e);
                return;
            } catch (IOException | IllegalStateException e) {
                fail(closedOrFailed(e, " (its twin socket)"), e);
                return;
            }
            if (m == null) {
                continue;
            }
            if (m.header().isReply()) {
                m.close();
                fail(server + " sent " + m.header() + " on the twin socket, which carries only its commands", null);
                return;
            }
            serve(m, tw);
        }
    }

    /**
     * Fails the connection if a request is overdue.
     *
     * @return nanoseconds until the next deadline (the timeout if nothing is outstanding)
     */
    private long checkDeadlines() {
        long now = System.nanoTime();
        long next = timeoutNanos;
        for (Pending p : pending.values()) {
            long left = p.deadline - now;
            if (left <= 0) {
                fail(overdue(p), null);
                return timeoutNanos;
            }
            next = Math.min(next, left);
        }
        for (long deadline : postsInFlight.values()) {
            long left = deadline - now;
            if (left <= 0) {
                fail(server + " did not take a posted write within " + timeoutMs + " ms (it stopped reading)", null);
                return timeoutNanos;
            }
            next = Math.min(next, left);
        }
        return next;
    }

    private String overdue(Pending p) {
        return server + " did not answer " + p.command + " within " + timeoutMs + " ms";
    }

    /** @return descriptions of the threads and requests, for tests and diagnostics */
    String census() {
        Object r = reader.get();
        return "pending=" + pending.size() + " followers=" + followers.size() + " reader="
                + (r == null ? "none" : r == BACKGROUND ? "background" : "caller") + " failure=" + failureReason();
    }

    /** One outstanding request. */
    private final class Pending {
        final int id;
        final Command command;
        final long deadline;
        final Thread thread;
        volatile boolean done;
        private Message reply;

        Pending(int id, Command command, long deadline, Thread thread) {
            this.id = id;
            this.command = command;
            this.deadline = deadline;
            this.thread = thread;
        }

        void complete(Message m) {
            reply = m;
            done = true;
            if (thread != Thread.currentThread()) {
                LockSupport.unpark(thread);
            }
        }

        void abort() {
            done = true;
            if (thread != Thread.currentThread()) {
                LockSupport.unpark(thread);
            }
        }

        Message result() {
            Message m = reply;
            if (m == null) {
                throw rethrow(failure.get());
            }
            return m;
        }
    }
}
