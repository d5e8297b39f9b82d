package vfio.tck.internal;

import java.time.Duration;
import vfio.api.backend.IrqSignal;
import vfio.posix.Epoll;
import vfio.posix.ErrnoException;
import vfio.posix.EventFd;

/**
 * The kit's stand-in for the core's interrupt event: an eventfd that a backend with {@code
 * IRQ_SIGNAL_FD} hands to the kernel or server, and that {@link #signal()} writes for the others.
 * The kit waits on it with epoll and a deadline, never forever. Owned by the {@link Probe} that made
 * it, which closes it after the device is closed.
 */
final class KitSignal implements IrqSignal, AutoCloseable {
    private final EventFd event;
    private final Epoll epoll;

    private KitSignal(EventFd event, Epoll epoll) {
        this.event = event;
        this.epoll = epoll;
    }

    static KitSignal create() throws ErrnoException {
        EventFd e = EventFd.create();
        try {
            Epoll p = Epoll.create(1);
            try {
                p.add(e.fd().value(), Epoll.IN, 0);
            } catch (ErrnoException ex) {
                p.close();
                throw ex;
            }
            return new KitSignal(e, p);
        } catch (ErrnoException ex) {
            e.close();
            throw ex;
        }
    }

    @Override
    public int fd() {
        return event.fd().isOpen() ? event.fd().value() : -1;
    }

    @Override
    public void signal() {
        try {
            event.signal();
        } catch (ErrnoException | IllegalStateException e) {
            // closed by the kit: a late signal from a closed device has nowhere to go
        }
    }

    /** @return how many signals arrived since the last drain (0 if none), without waiting */
    long drain() {
        try {
            return event.drain();
        } catch (ErrnoException e) {
            throw new Problem("cannot read the kit's eventfd: " + e.getMessage());
        }
    }

    /** Waits up to {@code timeout} for a signal. @return whether one arrived (it is consumed) */
    boolean await(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long[] tokens = new long[1];
        while (true) {
            if (drain() > 0) {
                return true;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            try {
                epoll.await(tokens, null, (int) Math.max(1, Math.min(left / 1_000_000, 100)));
            } catch (ErrnoException e) {
                throw new Problem("epoll on the kit's eventfd failed: " + e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        epoll.close();
        event.close();
    }
}
