package vfio.user.server.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import vfio.posix.Errno;
import vfio.posix.Fd;

/**
 * Checks on file descriptors a client passed, read from /proc (no native call needed), so that a
 * hostile client cannot make the server block on a pipe or fault on memory that does not exist.
 */
final class FdChecks {
    private static final long O_NONBLOCK = 04000;

    private FdChecks() {
    }

    /**
     * @throws Refused EINVAL unless {@code fd} is a non-blocking eventfd (writing to anything else,
     *                 or to a blocking eventfd whose counter is full, could block the server)
     */
    static void requireNonBlockingEventFd(Fd fd) throws Refused {
        String info;
        try {
            info = Files.readString(Path.of("/proc/self/fdinfo/" + fd.value()));
        } catch (IOException | RuntimeException e) {
            throw new Refused(Errno.EBADF, "cannot inspect the received descriptor: " + e.getMessage());
        }
        if (!info.contains("eventfd-count:")) {
            throw new Refused(Errno.EINVAL, "the descriptor passed for an interrupt is not an eventfd");
        }
        long flags = 0;
        for (String line : info.split("\n")) {
            if (line.startsWith("flags:")) {
                flags = Long.parseLong(line.substring(6).trim(), 8);
            }
        }
        if ((flags & O_NONBLOCK) == 0) {
            throw new Refused(Errno.EINVAL, "the interrupt eventfd is blocking; create it with EFD_NONBLOCK");
        }
    }

    /**
     * @return the size of the regular file (or memfd) behind {@code fd}
     * @throws Refused EINVAL if {@code fd} is not a regular file (it cannot be mapped safely)
     */
    static long regularFileSize(Fd fd) throws Refused {
        try {
            BasicFileAttributes a = Files.readAttributes(Path.of("/proc/self/fd/" + fd.value()), BasicFileAttributes.class);
            if (!a.isRegularFile()) {
                throw new Refused(Errno.EINVAL, "the descriptor passed with DMA_MAP is not a regular file or memfd");
            }
            return a.size();
        } catch (IOException | RuntimeException e) {
            throw new Refused(Errno.EBADF, "cannot inspect the descriptor passed with DMA_MAP: " + e.getMessage());
        }
    }
}
