package vfio.posix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns a socket descriptor received from a peer (e.g. the vfio-user twin socket passed with the
 * VERSION reply) into a {@link UnixSocket}.
 */
public final class ReceivedSockets {
    private ReceivedSockets() {
    }

    /**
     * Takes ownership of {@code fd} as a connected UNIX stream socket.
     *
     * @throws ErrnoException ENOTSOCK (the descriptor is closed) if it is not a socket
     */
    public static UnixSocket adopt(Fd fd) throws ErrnoException {
        String target;
        try {
            target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.value())).toString();
        } catch (IOException | RuntimeException e) {
            target = "";
        }
        if (!target.startsWith("socket:")) {
            fd.close();
            throw new ErrnoException("adopt(" + fd.what() + ")", 88 /* ENOTSOCK */,
                    "the received descriptor is " + (target.isEmpty() ? "unknown" : target) + ", not a socket");
        }
        return new UnixSocket(fd);
    }
}
