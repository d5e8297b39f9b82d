package vfio.backend.ioctl.internal;

import vfio.api.backend.IrqSignal;
import vfio.posix.Epoll;
import vfio.posix.ErrnoException;
import vfio.posix.EventFd;

/** An eventfd-backed IRQ signal, as the core makes them, with a bounded wait. */
final class TestIrqSignal implements IrqSignal, AutoCloseable {
    private final EventFd eventFd;
    private final Epoll epoll;

    TestIrqSignal() throws ErrnoException {
        this.eventFd = EventFd.create();
        this.epoll = Epoll.create(1);
        epoll.add(eventFd.fd().value(), Epoll.IN, 1);
    }

    @Override
    public int fd() {
        return eventFd.fd().value();
    }

    @Override
    public void signal() {
        try {
            eventFd.signal();
        } catch (ErrnoException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Waits until the eventfd was signalled and resets it.
     *
     * @return the counter (how many signals arrived), 0 if none within the timeout
     */
    long await(int timeoutMs) throws ErrnoException {
        long[] tokens = new long[1];
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true) {
            long count = eventFd.drain();
            if (count > 0) {
                return count;
            }
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return 0;
            }
            epoll.await(tokens, null, (int) left);
        }
    }

    @Override
    public void close() {
        epoll.close();
        eventFd.close();
    }
}
