package vfio.posix;

import com.sun.jna.LastErrorException;

/**
 * File seals of memfds (fcntl F_ADD_SEALS/F_GET_SEALS). A process that maps memory another process
 * passed it can only touch that mapping safely if the file cannot shrink: touching a page past
 * the end of a mapped file raises SIGBUS, which the JVM may report asynchronously, anywhere in the
 * thread. {@link #F_SEAL_SHRINK} rules that out for good (seals cannot be removed).
 */
public final class MemFdSeals {
    /** The file cannot be sealed further. */
    public static final int F_SEAL_SEAL = 0x1;
    /** The file cannot shrink. */
    public static final int F_SEAL_SHRINK = 0x2;
    /** The file cannot grow. */
    public static final int F_SEAL_GROW = 0x4;
    private static final int MFD_CLOEXEC = 1;
    private static final int MFD_ALLOW_SEALING = 2;
    private static final int F_ADD_SEALS = 1033;
    private static final int F_GET_SEALS = 1034;

    private MemFdSeals() {
    }

    /**
     * Creates a zero-filled memfd of {@code size} bytes sealed against shrinking and growing, so a
     * peer may map it safely.
     *
     * @return the descriptor, owned by the caller
     */
    public static Fd createSealed(String name, long size) throws ErrnoException {
        Fd fd;
        try {
            fd = Fd.adopt(LibC.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), "memfd:" + name);
        } catch (LastErrorException e) {
            throw Native.error("memfd_create(" + name + ")", e);
        }
        try {
            LibC.ftruncate(fd.value(), size);
            LibC.fcntl(fd.value(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
            return fd;
        } catch (LastErrorException e) {
            fd.close();
            throw Native.error("sealing memfd:" + name, e, size + " bytes");
        }
    }

    /**
     * @return the seals of {@code fd} (F_SEAL_* bits); 0 for a file that does not support seals
     *         (EINVAL: not a memfd or shmem file)
     */
    public static int seals(Fd fd) throws ErrnoException {
        try {
            return LibC.fcntl(fd.value(), F_GET_SEALS, 0);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.EINVAL) {
                return 0;
            }
            throw Native.error("fcntl(F_GET_SEALS, " + fd.what() + ")", e);
        }
    }
}
