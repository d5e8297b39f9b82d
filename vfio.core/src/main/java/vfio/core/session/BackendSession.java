package vfio.core.session;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.device.DeviceInfo;
import vfio.api.device.DeviceUnavailableException;

/**
 * One open device on one backend: the {@link DeviceIoOps} a factory returned, with the gate that
 * lets the core tear them down while other threads may be calling them.
 *
 * <p><b>Gate:</b> every backend call made on behalf of a driver runs between {@link #enter()} and
 * {@link #exit()}. {@link #closeAndDrain} shuts the gate (later {@code enter} calls fail) and waits
 * for the calls in flight, after which the binder may unmap, disable and close without racing a
 * driver. Mapped (fast-path) accesses never pass the gate; revocation protects them instead.
 *
 * <p><b>Threading:</b> {@code enter}/{@code exit}/{@link #lost} from any thread; {@code
 * closeAndDrain} from the binder thread. <b>Ownership:</b> the device that opened the session
 * closes the operations, once, after draining.
 */
public final class BackendSession {
    private final String backendId;
    private final long serviceId;
    private final DeviceIoOps ops;
    private final Set<BackendCapability> capabilities;
    private final DeviceInfo info;
    private final Runnable onLost;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean closing;
    private volatile String lostReason;

    /**
     * @param backendId    the backend's id, for messages and service properties
     * @param serviceId    the factory's {@code service.id}
     * @param ops          the open operations; owned by the caller of this constructor
     * @param capabilities what {@code ops} can do
     * @param info         the device info {@code ops} reported
     * @param onLost       run once, on the thread that saw it, when a call reports the peer gone
     */
    public BackendSession(String backendId, long serviceId, DeviceIoOps ops, Set<BackendCapability> capabilities,
            DeviceInfo info, Runnable onLost) {
        this.backendId = backendId;
        this.serviceId = serviceId;
        this.ops = ops;
        this.capabilities = Set.copyOf(capabilities);
        this.info = info;
        this.onLost = onLost;
    }

    /** @return the backend's id */
    public String backendId() {
        return backendId;
    }

    /** @return the {@code service.id} of the factory that opened the session */
    public long serviceId() {
        return serviceId;
    }

    /** @return the operations; call them only between {@link #enter()} and {@link #exit()} */
    public DeviceIoOps ops() {
        return ops;
    }

    /** @return whether the backend has {@code capability} */
    public boolean has(BackendCapability capability) {
        return capabilities.contains(capability);
    }

    /** @return the backend's capabilities */
    public Set<BackendCapability> capabilities() {
        return capabilities;
    }

    /** @return the device info the backend reported when the session opened */
    public DeviceInfo info() {
        return info;
    }

    /**
     * Passes the gate.
     *
     * @return true if the caller may now call {@link #ops()} and must {@link #exit()} afterwards;
     *         false if the session is being torn down (the caller must not call {@code exit})
     */
    public boolean enter() {
        inFlight.incrementAndGet();
        // Dekker-style with closeAndDrain: it writes closing and then reads inFlight, we write
        // inFlight and then read closing; with volatiles at least one of us sees the other.
        if (closing) {
            exit();
            return false;
        }
        return true;
    }

    /** Leaves the gate; once for every {@link #enter()} that returned true. */
    public void exit() {
        if (inFlight.decrementAndGet() == 0 && closing) {
            synchronized (inFlight) {
                inFlight.notifyAll();
            }
        }
    }

    /**
     * Shuts the gate and waits for the calls in flight to return.
     *
     * @param timeout how long to wait at most
     * @return whether every call returned in time (false: some backend call is stuck past its own
     *         timeout; the caller goes on and says so)
     * @throws InterruptedException if interrupted while waiting
     */
    public boolean closeAndDrain(Duration timeout) throws InterruptedException {
        closing = true;
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (inFlight) {
            while (inFlight.get() != 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(inFlight, left);
            }
        }
        return true;
    }

    /** @return how many calls are in flight (for messages) */
    public int inFlight() {
        return inFlight.get();
    }

    /** @return whether the gate is shut */
    public boolean isClosing() {
        return closing;
    }

    /**
     * Records that a call found the peer gone, so the binder tears this session down, and hands the
     * exception back for rethrowing: {@code throw session.lost(e);}.
     */
    public DeviceUnavailableException lost(DeviceUnavailableException e) {
        if (lostReason == null) {
            synchronized (this) {
                if (lostReason != null) {
                    return e;
                }
                lostReason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            }
            onLost.run();
        }
        return e;
    }

    /** @return why a call found the peer gone, or null if none did */
    public String lostReason() {
        return lostReason;
    }

    @Override
    public String toString() {
        return "session on " + backendId + " (service " + serviceId + ")";
    }
}
