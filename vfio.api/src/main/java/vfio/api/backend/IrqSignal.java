package vfio.api.backend;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * An interrupt's event object, created and owned by the core; the core's dispatcher calls the
 * driver's handler each time it is signalled. Two ways to signal it, one per kind of backend:
 * <ul>
 * <li>a backend with {@link BackendCapability#IRQ_SIGNAL_FD} hands {@link #fd()} (an eventfd on
 * Linux) to the kernel or server, which then writes it directly;</li>
 * <li>a backend that learns of interrupts itself (the Apple dext's pending bitmap) calls {@link
 * #signal()}.</li>
 * </ul>
 * The backend must not close the fd; it may duplicate it (the duplicate is then its own to close).
 */
@ConsumerType
public interface IrqSignal {
    /** @return the file descriptor that signals this interrupt when written, or -1 if there is none */
    int fd();

    /** Signals the interrupt. Thread-safe, non-blocking, never throws. */
    void signal();
}
