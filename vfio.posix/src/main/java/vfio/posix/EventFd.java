package vfio.posix;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;

/**
 * A Linux eventfd: a kernel counter that another party (the kernel's VFIO code, a vfio-user server)
 * increments to signal, and that an epoll loop waits on. Non-blocking and close-on-exec.
 */
public final class EventFd implements AutoCloseable {
    private static final int EFD_NONBLOCK = 0x800;
    private static final int EFD_CLOEXEC = 0x80000;
    private static final ThreadLocal<Memory> EIGHT = ThreadLocal.withInitial(() -> new Memory(8));

    private final Fd fd;

    private EventFd(Fd fd) {
        this.fd = fd;
    }

    /** Creates an eventfd with counter 0. */
    public static EventFd create() throws ErrnoException {
        try {
            return new EventFd(Fd.adopt(LibC.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd"));
        } catch (LastErrorException e) {
            throw Native.error("eventfd", e);
        }
    }

    /** Wraps an eventfd received from elsewhere (e.g. over SCM_RIGHTS); takes ownership. */
    public static EventFd adopt(Fd fd) {
        return new EventFd(fd);
    }

    /** @return the descriptor (owned by this object) */
    public Fd fd() {
        return fd;
    }

    /** Adds 1 to the counter, waking waiters. Never blocks (a saturated counter is left as is). */
    public void signal() throws ErrnoException {
        Memory m = EIGHT.get();
        m.setLong(0, 1);
        try {
            LibC.write(fd.value(), Pointer.nativeValue(m), 8);
        } catch (LastErrorException e) {
            if (e.getErrorCode() != Errno.EAGAIN) {
                throw Native.error("write(eventfd)", e);
            }
        }
    }

    /** Reads and resets the counter. @return its value, 0 if it was 0 */
    public long drain() throws ErrnoException {
        Memory m = EIGHT.get();
        try {
            LibC.read(fd.value(), Pointer.nativeValue(m), 8);
            return m.getLong(0);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.EAGAIN) {
                return 0;
            }
            throw Native.error("read(eventfd)", e);
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
