package vfio.posix;

import java.lang.ref.Reference;
import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * A Linux epoll instance. {@link #add}/{@link #remove} may be called from any thread while another
 * thread is in {@link #await}. Each registration carries a {@code long} token returned on readiness.
 */
public final class Epoll implements AutoCloseable {
    /** Readable. */
    public static final int IN = 0x1;
    /** Error condition (always reported). */
    public static final int ERR = 0x8;
    /** Hang-up (always reported). */
    public static final int HUP = 0x10;
    private static final int CTL_ADD = 1;
    private static final int CTL_DEL = 2;
    private static final int CTL_MOD = 3;
    // struct epoll_event is packed on x86_64 (12 bytes), naturally aligned elsewhere (16).
    private static final int EVENT_SIZE = Platform.isIntel() ? 12 : 16;
    private static final int DATA_OFFSET = Platform.isIntel() ? 4 : 8;

    private final Fd fd;
    private final Memory events;
    private final int capacity;

    private Epoll(Fd fd, int capacity) {
        this.fd = fd;
        this.capacity = capacity;
        this.events = new Memory((long) EVENT_SIZE * capacity);
    }

    /** @param capacity the most events one {@link #await} returns */
    public static Epoll create(int capacity) throws ErrnoException {
        try {
            return new Epoll(Fd.adopt(LibC.epoll_create1(Fd.O_CLOEXEC), "epoll"), capacity);
        } catch (LastErrorException e) {
            throw Native.error("epoll_create1", e);
        }
    }

    /** Watches {@code target} for {@code events}; readiness reports {@code token}. */
    public void add(int target, int events, long token) throws ErrnoException {
        ctl(CTL_ADD, target, events, token);
    }

    /** Changes the events or token of a watched descriptor. */
    public void modify(int target, int events, long token) throws ErrnoException {
        ctl(CTL_MOD, target, events, token);
    }

    /** Stops watching {@code target}. */
    public void remove(int target) throws ErrnoException {
        ctl(CTL_DEL, target, 0, 0);
    }

    private void ctl(int op, int target, int ev, long token) throws ErrnoException {
        Memory m = new Memory(EVENT_SIZE);
        m.setInt(0, ev);
        m.setLong(DATA_OFFSET, token);
        try {
            LibC.epoll_ctl(fd.value(), op, target, Pointer.nativeValue(m));
        } catch (LastErrorException e) {
            throw Native.error("epoll_ctl(" + op + ", fd " + target + ")", e);
        } finally {
            Reference.reachabilityFence(m); // the kernel reads it: it must not be freed during the call
        }
    }

    /**
     * Waits for readiness. Only one thread may wait at a time.
     *
     * @param tokens     receives the tokens of ready descriptors
     * @param readyFlags receives their event bits (same index), may be null
     * @param timeoutMs  -1 to wait forever
     * @return number of entries filled; 0 on timeout or EINTR
     */
    public int await(long[] tokens, int[] readyFlags, int timeoutMs) throws ErrnoException {
        int max = Math.min(capacity, tokens.length);
        int n;
        try {
            n = LibC.epoll_wait(fd.value(), Pointer.nativeValue(events), max, timeoutMs);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.EINTR) {
                return 0;
            }
            throw Native.error("epoll_wait", e);
        } finally {
            Reference.reachabilityFence(events);
        }
        for (int i = 0; i < n; i++) {
            long base = (long) i * EVENT_SIZE;
            tokens[i] = events.getLong(base + DATA_OFFSET);
            if (readyFlags != null) {
                readyFlags[i] = events.getInt(base);
            }
        }
        return n;
    }

    @Override
    public void close() {
        fd.close();
    }
}
