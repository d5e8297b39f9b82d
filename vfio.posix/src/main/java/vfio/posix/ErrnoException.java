package vfio.posix;

import java.io.IOException;

/** A system call failed. Carries the call, the errno and its symbolic name. */
public final class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    /**
     * @param call   what was called, with its essential argument (e.g. {@code ioctl(VFIO_GROUP_GET_STATUS)})
     * @param errno  the errno
     * @param detail more context, or null
     */
    public ErrnoException(String call, int errno, String detail) {
        super(call + " failed: " + Errno.name(errno) + " (" + Errno.describe(errno) + ")"
                + (detail == null ? "" : ": " + detail));
        this.call = call;
        this.errno = errno;
    }

    /** @return the call that failed */
    public String call() {
        return call;
    }

    /** @return the errno */
    public int errno() {
        return errno;
    }

    /** @return the errno's symbolic name, e.g. {@code EINVAL} */
    public String errnoName() {
        return Errno.name(errno);
    }
}
