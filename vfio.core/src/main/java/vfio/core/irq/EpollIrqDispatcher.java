package vfio.core.irq;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import vfio.posix.Epoll;
import vfio.posix.ErrnoException;
import vfio.posix.EventFd;

/** The Linux dispatcher: one epoll instance watching one eventfd per signal, and a wake-up eventfd. */
final class EpollIrqDispatcher implements IrqDispatcher {
    private static final System.Logger LOG = System.getLogger("vfio.core.irq");
    private static final long WAKE_TOKEN = 0;
    private static final int BATCH = 64;
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);

    private final Epoll epoll;
    private final EventFd wake;
    private final Map<Long, FdSignal> signals = new ConcurrentHashMap<>();
    private final Queue<FdSignal> closing = new ConcurrentLinkedQueue<>();
    private final AtomicLong nextToken = new AtomicLong(WAKE_TOKEN + 1);
    private final Thread thread;
    private volatile boolean running = true;
    private final java.util.concurrent.atomic.AtomicBoolean closeCalled = new java.util.concurrent.atomic.AtomicBoolean();

    EpollIrqDispatcher() throws ErrnoException {
        epoll = Epoll.create(BATCH);
        try {
            wake = EventFd.create();
            epoll.add(wake.fd().value(), Epoll.IN, WAKE_TOKEN);
        } catch (ErrnoException e) {
            epoll.close();
            throw e;
        }
        thread = new Thread(this::loop, THREAD_NAME);
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public Signal open(String name, Runnable target) throws ErrnoException {
        if (!running) {
            throw new IllegalStateException("the IRQ dispatcher is closed; cannot create a signal for " + name);
        }
        EventFd eventFd = EventFd.create();
        FdSignal s = new FdSignal(name, eventFd, nextToken.getAndIncrement(), target);
        signals.put(s.token, s);
        try {
            epoll.add(eventFd.fd().value(), Epoll.IN, s.token);
        } catch (ErrnoException e) {
            signals.remove(s.token);
            eventFd.close();
            throw e;
        }
        return s;
    }

    private void loop() {
        long[] tokens = new long[BATCH];
        try {
            while (running) {
                int n = epoll.await(tokens, null, -1);
                for (int i = 0; i < n; i++) {
                    if (tokens[i] == WAKE_TOKEN) {
                        wake.drain();
                    } else {
                        FdSignal s = signals.get(tokens[i]);
                        if (s != null) {
                            s.dispatch();
                        }
                    }
                }
                destroyClosed();
            }
        } catch (ErrnoException | RuntimeException e) {
            LOG.log(Level.ERROR, "IRQ dispatcher stopped: " + e.getMessage() + "; no interrupt is delivered any more", e);
        } finally {
            running = false;
            signals.values().forEach(closing::add);
            signals.clear();
            destroyClosed();
            // epoll and wake stay open: close() closes them once this thread is gone, so no one can
            // signal or register on a descriptor number that was closed and reused meanwhile.
        }
    }

    private void destroyClosed() {
        for (FdSignal s; (s = closing.poll()) != null; ) {
            s.destroy();
        }
    }

    @Override
    public void close() {
        if (!closeCalled.compareAndSet(false, true)) {
            return;
        }
        running = false;
        try {
            wake.signal();
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "cannot wake the IRQ dispatcher to stop it: " + e.getMessage());
        }
        try {
            thread.join(STOP_TIMEOUT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.log(Level.WARNING, "the IRQ dispatcher did not stop within " + STOP_TIMEOUT.toMillis()
                    + " ms; its epoll and wake descriptors stay open");
            return;
        }
        epoll.close();
        wake.close();
    }

    /** An eventfd signal. */
    private final class FdSignal implements Signal {
        private final String name;
        private final EventFd eventFd;
        private final long token;
        private final Runnable target;
        private final int fd;
        /** Threads inside {@link #signal()}; -1 once destroyed (the descriptor may be reused). */
        private final AtomicInteger users = new AtomicInteger();
        private volatile boolean closed;

        FdSignal(String name, EventFd eventFd, long token, Runnable target) {
            this.name = name;
            this.eventFd = eventFd;
            this.token = token;
            this.target = target;
            this.fd = eventFd.fd().value();
        }

        @Override
        public int fd() {
            return closed ? -1 : fd;
        }

        @Override
        public void signal() {
            if (!enterUse()) {
                return;
            }
            try {
                eventFd.signal();
            } catch (ErrnoException e) {
                LOG.log(Level.WARNING, "cannot signal " + name + ": " + e.getMessage());
            } finally {
                users.decrementAndGet();
            }
        }

        private boolean enterUse() {
            for (;;) {
                int u = users.get();
                if (u < 0) {
                    return false;
                }
                if (users.compareAndSet(u, u + 1)) {
                    return true;
                }
            }
        }

        /** On the dispatcher thread: reads the counter and runs the target once if it was signalled. */
        void dispatch() {
            try {
                if (eventFd.drain() > 0 && !closed) {
                    target.run();
                }
            } catch (Throwable t) {
                LOG.log(Level.WARNING, "interrupt target of " + name + " failed: " + t, t);
            }
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            signals.remove(token);
            if (running) {
                closing.add(this);
                try {
                    wake.signal();
                } catch (ErrnoException e) {
                    LOG.log(Level.WARNING, "cannot wake the IRQ dispatcher: " + e.getMessage());
                }
            }
            if (!running) {
                // The loop is ending or gone: once it has, nobody else drains this descriptor.
                if (Thread.currentThread() != thread) {
                    try {
                        thread.join(STOP_TIMEOUT.toMillis());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                destroy();
            }
        }

        /** On the dispatcher thread (or after it ended): unwatch and close the eventfd. Idempotent. */
        void destroy() {
            // A thread may be inside signal(): one eventfd write, which never blocks. Wait it out.
            for (;;) {
                int u = users.get();
                if (u < 0) {
                    return; // destroyed already
                }
                if (u == 0 && users.compareAndSet(0, -1)) {
                    break;
                }
                Thread.onSpinWait();
            }
            try {
                epoll.remove(fd);
            } catch (ErrnoException | RuntimeException e) {
                // epoll drops a closed descriptor by itself, and a closed epoll has nothing to drop
            }
            eventFd.close();
        }

        @Override
        public String toString() {
            return "signal " + name + " (eventfd " + fd + ")";
        }
    }
}
