package vfio.posix;

import com.sun.jna.LastErrorException;

/** Anonymous shared memory with a file descriptor (memfd_create), so it can be passed to another process. */
public final class MemFd {
    private static final int MFD_CLOEXEC = 1;

    private MemFd() {
    }

    /**
     * Creates a memfd of {@code size} bytes (zero-filled).
     *
     * @param name shown in /proc/PID/maps and fd links
     * @return the descriptor, owned by the caller
     */
    public static Fd create(String name, long size) throws ErrnoException {
        Fd fd;
        try {
            fd = Fd.adopt(LibC.memfd_create(name, MFD_CLOEXEC), "memfd:" + name);
        } catch (LastErrorException e) {
            throw Native.error("memfd_create(" + name + ")", e);
        }
        try {
            LibC.ftruncate(fd.value(), size);
        } catch (LastErrorException e) {
            fd.close();
            throw Native.error("ftruncate(memfd:" + name + ")", e, size + " bytes");
        }
        return fd;
    }
}
