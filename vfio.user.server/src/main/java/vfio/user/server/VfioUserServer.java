package vfio.user.server;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Objects;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.UnixServerSocket;
import vfio.posix.UnixSocket;
import vfio.user.server.internal.ServerLoop;

/**
 * Serves a {@link PciDevice} over vfio-user on a UNIX socket, to one client at a time, on a thread
 * of its own. Further clients wait in the listen backlog until the current one disconnects; after a
 * disconnect the device is reset, the client's DMA mappings are unmapped and its eventfds closed.
 *
 * <p>The socket file is created owner-only (0600). A stale socket file left by a killed server is
 * replaced; a live one (another server answers) is not.
 *
 * <p>Ownership: the server owns its socket and thread, not the device: after {@link #close()} the
 * caller closes the device (or serves it again). Threading: thread-safe.
 */
public final class VfioUserServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VfioUserServer.class.getName());
    private static final int STOP_TIMEOUT_MS = 10_000;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final PciDevice device;
    private final UnixServerSocket listener;
    private final ServerLoop loop;
    private final Thread thread;
    private boolean closed;

    private VfioUserServer(PciDevice device, UnixServerSocket listener, ServerOptions options) {
        this.device = device;
        this.listener = listener;
        this.loop = new ServerLoop(device.model, listener, options);
        this.thread = new Thread(loop, "vfio-user-server " + listener.path());
        this.thread.setDaemon(true);
    }

    /** Same as {@link #start(PciDevice, Path, ServerOptions)} with {@link ServerOptions#defaults()}. */
    public static VfioUserServer start(PciDevice device, Path socket) throws IOException {
        return start(device, socket, ServerOptions.defaults());
    }

    /**
     * Listens on {@code socket} and serves {@code device} until {@link #close()}. The socket path
     * exists when this method returns, so a client may connect at once.
     *
     * @param socket the socket file to create (its directory must exist; at most 107 bytes)
     * @throws IllegalStateException if another server serves {@code device}
     * @throws IOException           if the socket cannot be created: EADDRINUSE if a live server
     *                               listens there, or a file that is no socket is in the way
     */
    public static VfioUserServer start(PciDevice device, Path socket, ServerOptions options) throws IOException {
        Objects.requireNonNull(options, "options");
        device.model.claim();
        try {
            removeStaleSocket(socket);
            VfioUserServer server = new VfioUserServer(device, UnixServerSocket.listen(socket, 4), options);
            server.thread.start();
            LOG.log(Level.DEBUG, () -> "serving " + device + " on " + socket);
            return server;
        } catch (IOException | RuntimeException e) {
            device.model.release();
            throw e;
        }
    }

    private static void removeStaleSocket(Path socket) throws IOException {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (Integer) Files.getAttribute(socket, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new ErrnoException("bind(" + socket + ")", Errno.EADDRINUSE,
                    "a file that is not a socket is in the way; remove it or choose another path");
        }
        try (UnixSocket probe = UnixSocket.connect(socket)) {
            throw new ErrnoException("bind(" + socket + ")", Errno.EADDRINUSE, "another server listens there");
        } catch (ErrnoException e) {
            if (e.errno() != Errno.ECONNREFUSED) {
                throw e;
            }
            // Nobody listens: a server died without removing it.
            LOG.log(Level.INFO, "replacing stale socket " + socket);
            Files.deleteIfExists(socket);
        }
    }

    /** @return the socket file */
    public Path socketPath() {
        return listener.path();
    }

    /** @return the device served */
    public PciDevice device() {
        return device;
    }

    /** @return whether a client is connected now */
    public boolean isClientConnected() {
        return loop.clientConnected();
    }

    /** @return how many clients have connected since the start */
    public long clientsAccepted() {
        return loop.clientsAccepted();
    }

    /**
     * Disconnects the client (resetting the device as on any disconnect), stops listening, removes
     * the socket file and waits for the server thread (up to 10 s: device code blocked in a
     * callback can delay it). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        loop.stop();
        try {
            thread.join(STOP_TIMEOUT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.log(Level.WARNING, "the server thread of " + listener.path() + " did not stop within "
                    + STOP_TIMEOUT_MS + " ms (a device callback blocks?); closing its socket anyway");
        }
        listener.close();
        device.model.release();
    }

    @Override
    public String toString() {
        return "VfioUserServer[" + device + " on " + listener.path() + "]";
    }
}
