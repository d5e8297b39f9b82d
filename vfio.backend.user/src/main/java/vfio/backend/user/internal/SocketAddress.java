package vfio.backend.user.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * A {@code vfio-user:<absolute socket path>} device address and the checks made before connecting.
 *
 * <p>Security: an address comes from configuration and names a file. This backend only ever calls
 * {@code connect(2)} on it (which reaches a listening socket and nothing else), never {@code open(2)},
 * and it refuses before connecting: relative paths, paths with {@code .} or {@code ..} segments or
 * empty segments, paths too long for {@code sockaddr_un}, files that are not sockets (after following
 * symbolic links), and, when the operator configured socket directories, sockets whose real path lies
 * outside them. Stateless; thread-safe.
 */
final class SocketAddress {
    /** The address scheme. */
    static final String SCHEME = "vfio-user:";
    /** {@code sun_path} holds 108 bytes including the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private SocketAddress() {
    }

    /** @return whether the address uses this backend's scheme */
    static boolean hasScheme(String address) {
        return address != null && address.startsWith(SCHEME);
    }

    /**
     * Parses the path of a {@code vfio-user:} address without touching the file system.
     *
     * @return the path
     * @throws IllegalArgumentException with a sentence saying what is wrong and what to write
     */
    static Path parse(String address) {
        if (!hasScheme(address)) {
            throw new IllegalArgumentException("'" + address + "' is not a vfio-user address; write "
                    + SCHEME + "/absolute/path/to/server.sock");
        }
        String p = address.substring(SCHEME.length());
        if (p.isEmpty() || p.charAt(0) != '/') {
            throw new IllegalArgumentException("the socket path in '" + address + "' is not absolute; write "
                    + SCHEME + "/absolute/path/to/server.sock");
        }
        if (p.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("the socket path in '" + address + "' contains a NUL character");
        }
        if (p.length() > 1 && p.endsWith("/")) {
            throw new IllegalArgumentException("the socket path in '" + address + "' ends with '/': it names a directory");
        }
        for (String segment : p.substring(1).split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("the socket path in '" + address + "' has an empty, '.' or '..'"
                        + " segment; write the plain absolute path of the socket");
            }
        }
        if (p.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new IllegalArgumentException("the socket path in '" + address + "' is longer than " + MAX_PATH_BYTES
                    + " bytes, the limit of a UNIX socket address; use a shorter directory");
        }
        return Path.of(p);
    }

    /**
     * Checks that {@code path} is a socket this process may connect to.
     *
     * @param allowedDirectories if not empty, the socket's real path must lie inside one of them
     * @return the socket's real path (symbolic links resolved), the one to connect to
     * @throws IllegalArgumentException with a sentence a person can act on
     */
    static Path check(Path path, List<Path> allowedDirectories) {
        Path real;
        int mode;
        try {
            real = path.toRealPath();
            mode = (Integer) Files.getAttribute(real, "unix:mode");
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("the vfio-user socket " + path + " does not exist (yet): start the server"
                    + " or fix the address");
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException("no permission to reach the vfio-user socket " + path + " (" + e.getFile()
                    + "): grant this user access to the socket and its directories");
        } catch (IOException | UnsupportedOperationException | ClassCastException e) {
            throw new IllegalArgumentException("cannot inspect the vfio-user socket " + path + ": " + e.getMessage());
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new IllegalArgumentException(path + (real.equals(path) ? "" : " (" + real + ")")
                    + " is not a socket: a vfio-user address must name the server's listening UNIX socket");
        }
        if (!allowedDirectories.isEmpty() && allowedDirectories.stream().noneMatch(d -> inside(real, d))) {
            throw new IllegalArgumentException("the vfio-user socket " + real + " is outside the configured socket"
                    + " directories " + allowedDirectories + "; move the socket there or extend the configuration"
                    + " (vfio.backend.user: socket.directories)");
        }
        if (!Files.isWritable(real)) {
            throw new IllegalArgumentException("no permission to connect to the vfio-user socket " + real
                    + ": connecting needs write permission on the socket file");
        }
        if (real.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new IllegalArgumentException("the vfio-user socket " + path + " resolves to " + real + ", longer than "
                    + MAX_PATH_BYTES + " bytes; use a shorter path");
        }
        return real;
    }

    private static boolean inside(Path real, Path directory) {
        try {
            return real.startsWith(directory.toRealPath());
        } catch (IOException e) {
            return false;
        }
    }
}
