package vfio.core.irq;

import java.lang.System.Logger.Level;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The dispatcher for systems without eventfd and epoll (macOS): a signal is a Java object queued to
 * the dispatcher thread by {@link Signal#signal()}; {@link Signal#fd()} is -1.
 */
final class QueueIrqDispatcher implements IrqDispatcher {
    private static final System.Logger LOG = System.getLogger("vfio.core.irq");

    private final BlockingQueue<QueueSignal> queue = new LinkedBlockingQueue<>();
    private final QueueSignal stop = new QueueSignal("stop", () -> { });
    private final Thread thread;
    private volatile boolean running = true;

    QueueIrqDispatcher() {
        thread = new Thread(this::loop, THREAD_NAME);
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public Signal open(String name, Runnable target) {
        if (!running) {
            throw new IllegalStateException("the IRQ dispatcher is closed; cannot create a signal for " + name);
        }
        return new QueueSignal(name, target);
    }

    private void loop() {
        try {
            while (running) {
                QueueSignal s = queue.take();
                if (s == stop) {
                    break;
                }
                s.dispatch();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        queue.add(stop);
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private final class QueueSignal implements Signal {
        private final String name;
        private final Runnable target;
        private final AtomicBoolean pending = new AtomicBoolean();
        private volatile boolean closed;

        QueueSignal(String name, Runnable target) {
            this.name = name;
            this.target = target;
        }

        @Override
        public int fd() {
            return -1;
        }

        @Override
        public void signal() {
            if (!closed && pending.compareAndSet(false, true)) {
                queue.add(this);
            }
        }

        void dispatch() {
            if (pending.getAndSet(false) && !closed) {
                try {
                    target.run();
                } catch (Throwable t) {
                    LOG.log(Level.WARNING, "interrupt target of " + name + " failed: " + t, t);
                }
            }
        }

        @Override
        public void close() {
            closed = true;
        }

        @Override
        public String toString() {
            return "signal " + name;
        }
    }
}
