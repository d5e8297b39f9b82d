package vfio.core.irq;

import vfio.api.backend.IrqSignal;
import vfio.posix.ErrnoException;

/**
 * Owns interrupt signals and the one thread, {@value #THREAD_NAME}, that runs their targets. On
 * Linux every signal is an eventfd registered in one epoll instance, so a kernel or a vfio-user
 * server can signal it directly; elsewhere a signal is a Java object whose {@link IrqSignal#signal()}
 * queues it for the thread ({@link IrqSignal#fd()} is then -1).
 *
 * <p>Signals coalesce: however often a signal is signalled before the thread gets to it, its target
 * runs once, as a level-triggered interrupt line would be seen once.
 *
 * <p><b>Threading:</b> {@link #open} and {@link Signal#close()} from any thread; targets run on the
 * dispatcher thread only, one at a time; a target's exception is logged and the thread goes on.
 */
public interface IrqDispatcher extends AutoCloseable {
    /** Name of the dispatcher thread. */
    String THREAD_NAME = "vfio-irq-dispatcher";

    /**
     * Creates a signal.
     *
     * @param name   what it signals, for messages (e.g. {@code nic0 msix[3]})
     * @param target run on the dispatcher thread each time the signal fires; must not block
     * @return the signal, owned by the caller, who closes it once no backend uses it any more
     * @throws ErrnoException if the eventfd cannot be created or watched
     */
    Signal open(String name, Runnable target) throws ErrnoException;

    /** Stops the thread and closes every signal still open. Idempotent. */
    @Override
    void close();

    /** @return the dispatcher for this platform: epoll and eventfds on Linux, a Java queue elsewhere */
    static IrqDispatcher create() throws ErrnoException {
        return isLinux() ? new EpollIrqDispatcher() : new QueueIrqDispatcher();
    }

    private static boolean isLinux() {
        return System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).startsWith("linux");
    }

    /** A signal the core hands to a backend. */
    interface Signal extends IrqSignal, AutoCloseable {
        /**
         * Stops dispatching and closes the signal's descriptor (on the dispatcher thread, so that a
         * drain in progress never meets a reused descriptor number). Idempotent.
         */
        @Override
        void close();
    }
}
