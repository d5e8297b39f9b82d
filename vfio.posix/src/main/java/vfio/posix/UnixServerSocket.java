package vfio.posix;

import java.lang.ref.Reference;
import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A listening AF_UNIX socket. The socket file is created owner-only (0600) before the socket
 * listens, so no other user can connect even briefly. {@link #close()} removes the file.
 */
public final class UnixServerSocket implements AutoCloseable {
    private final Fd fd;
    private final Path path;

    private UnixServerSocket(Fd fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    /**
     * Binds and listens at {@code path}.
     *
     * @throws ErrnoException EADDRINUSE if the file exists (remove a stale one first)
     */
    public static UnixServerSocket listen(Path path, int backlog) throws ErrnoException {
        Memory addr = UnixSocket.sockaddr(path);
        Fd fd = UnixSocket.newSocket(path.toString());
        try {
            LibC.bind(fd.value(), Pointer.nativeValue(addr), (int) addr.size());
        } catch (LastErrorException e) {
            fd.close();
            throw Native.error("bind(" + path + ")", e,
                    e.getErrorCode() == Errno.EADDRINUSE ? "the socket file exists; remove it if no server uses it" : null);
        } finally {
            Reference.reachabilityFence(addr);
        }
        try {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            LibC.listen(fd.value(), backlog);
        } catch (IOException e) {
            fd.close();
            throw new ErrnoException("chmod(" + path + ")", Errno.EPERM, e.getMessage());
        } catch (LastErrorException e) {
            fd.close();
            throw Native.error("listen(" + path + ")", e);
        }
        return new UnixServerSocket(fd, path);
    }

    /** @return the socket file */
    public Path path() {
        return path;
    }

    /**
     * Accepts one connection.
     *
     * @param timeoutMs -1 waits forever
     * @return the connection, owned by the caller, or null on timeout or after {@link #close()}
     */
    public UnixSocket accept(int timeoutMs) throws ErrnoException {
        if (!fd.isOpen() || !UnixSocket.poll(fd, timeoutMs)) {
            return null;
        }
        try {
            return new UnixSocket(Fd.adopt(LibC.accept4(fd.value(), 0, 0, UnixSocket.SOCK_CLOEXEC), "connection on " + path));
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.EAGAIN || e.getErrorCode() == Errno.EINTR) {
                return null;
            }
            throw Native.error("accept(" + path + ")", e);
        } catch (IllegalStateException closed) {
            return null;
        }
    }

    /** Stops listening and removes the socket file. Idempotent. */
    @Override
    public void close() {
        if (fd.isOpen()) {
            try {
                LibC.shutdown(fd.value(), 2);
            } catch (LastErrorException e) {
                // not connected: fine for a listener
            }
        }
        fd.close();
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // the directory may be gone already
        }
    }
}
