package vfio.backend.apple.internal;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.function.Consumer;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextException;

/**
 * The interrupt thread of one dext session: arms WaitInterrupt and blocks on it, then reads and
 * clears the pending bitmap (CheckInterrupt) and hands every set bit to the dispatcher, and arms
 * again. It reads the bitmap after every return of the wait, whether the wait completed or timed out:
 * <ul>
 * <li>after a failed CheckInterrupt the loop simply arms again; the bits stay pending in the dext, so
 * the new wait completes at once and the next read delivers them;</li>
 * <li>a lost wake-up (the dext set a bit but the completion never arrived) costs at most one wait
 * timeout: the read after the timeout finds the bit. The timeout is the recovery bound.</li>
 * </ul>
 * {@link #stop()} ends the thread without waiting for a timeout (it wakes the waiter) and joins it
 * for a bounded time.
 */
final class InterruptLoop implements Runnable {
    private static final Logger LOG = System.getLogger(InterruptLoop.class.getName());
    /** How long {@link #stop()} waits for the thread; the waiter is woken, so this is only a safety bound. */
    static final long JOIN_MILLIS = 2000;
    /** Failures logged in full before the loop only counts them (a dead dext would flood the log). */
    private static final int LOGGED_FAILURES = 5;

    private final DextConnection dext;
    private final long waitMillis;
    private final Consumer<long[]> dispatcher;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long wakeups;
    private volatile long timeouts;
    private volatile long failures;

    /**
     * @param dext       the session's connection; only this loop calls its {@link DextConnection#waitInterrupt}
     * @param waitMillis the longest wait before the bitmap is read anyway
     * @param dispatcher receives each non-zero bitmap (4 words), on the loop thread; must not block
     * @param name       thread name
     */
    InterruptLoop(DextConnection dext, long waitMillis, Consumer<long[]> dispatcher, String name) {
        if (waitMillis <= 0) {
            throw new IllegalArgumentException("interrupt wait timeout must be positive, got " + waitMillis + " ms");
        }
        this.dext = dext;
        this.waitMillis = waitMillis;
        this.dispatcher = dispatcher;
        this.thread = new Thread(this, name);
        thread.setDaemon(true); // never keeps the JVM alive, even if stop() could not join it
    }

    void start() {
        thread.start();
    }

    @Override
    public void run() {
        while (running) {
            try {
                if (dext.waitInterrupt(waitMillis)) {
                    wakeups++;
                } else {
                    timeouts++;
                }
            } catch (DextException e) {
                failed("arming WaitInterrupt", e);
                pause(); // nothing armed: poll at the wait period instead of spinning
            }
            if (!running) {
                break;
            }
            try {
                long[] bits = dext.checkInterrupt();
                if ((bits[0] | bits[1] | bits[2] | bits[3]) != 0) {
                    dispatcher.accept(bits);
                }
            } catch (DextException e) {
                failed("reading the pending bitmap", e); // re-arm: the bits are still pending in the dext
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "interrupt delivery failed; continuing", e);
            }
        }
    }

    private void failed(String what, DextException e) {
        long n = ++failures;
        if (n <= LOGGED_FAILURES) {
            LOG.log(Level.WARNING, () -> thread.getName() + ": " + what + " failed: " + e.getMessage()
                    + (n == LOGGED_FAILURES ? " (further failures are counted, not logged)" : ""));
        }
    }

    private void pause() {
        long end = System.nanoTime() + waitMillis * 1_000_000L;
        synchronized (this) {
            long left;
            while (running && (left = end - System.nanoTime()) > 0) {
                try {
                    wait(left / 1_000_000L, (int) (left % 1_000_000L));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Stops the loop: wakes the waiter and joins the thread for at most {@link #JOIN_MILLIS}.
     *
     * @return whether the thread ended
     */
    boolean stop() {
        running = false;
        dext.wakeWaiter();
        synchronized (this) {
            notifyAll();
        }
        if (Thread.currentThread() == thread) {
            return false;
        }
        try {
            thread.join(JOIN_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.log(Level.WARNING, thread.getName() + " did not stop within " + JOIN_MILLIS
                    + " ms; it is a daemon thread and ends when its dext call returns");
            return false;
        }
        return true;
    }

    /** @return whether the thread is running */
    boolean isAlive() {
        return thread.isAlive();
    }

    /** @return waits that ended with a completion */
    long wakeups() {
        return wakeups;
    }

    /** @return waits that ended without a completion (timeout or wake-up by {@link #stop()}) */
    long timeouts() {
        return timeouts;
    }

    /** @return failed WaitInterrupt or CheckInterrupt calls */
    long failures() {
        return failures;
    }
}
