package vfio.benchmarks;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.osgi.framework.Constants;
import vfio.api.backend.BackendFactory;
import vfio.api.device.DeviceState;
import vfio.backend.memory.MemoryBackend;
import vfio.core.device.BackendCandidate;
import vfio.core.device.CoreDevice;
import vfio.core.device.DeviceSettings;
import vfio.core.irq.IrqDispatcher;

/**
 * A {@link CoreDevice} without OSGi, bound to the shipped memory backend ({@code memory:NAME}), set
 * up the way vfio.core's own tests do it (the service bookkeeping DS would do is done by hand).
 *
 * <p>Ownership: {@link #close()} closes the device and the dispatcher. Threading: {@link #bind} and
 * {@link #unbind} may be called from one background thread while other threads access regions.
 */
public final class BenchDevice implements AutoCloseable {
    private static final AtomicLong SERVICE_IDS = new AtomicLong(1000);

    public final IrqDispatcher dispatcher;
    public final CoreDevice device;

    /**
     * @param name memory device name (the state file lives in /dev/shm/vfio-memory)
     * @throws Exception if the dispatcher cannot be created or the device does not bind within 10 s
     */
    public BenchDevice(String name) throws Exception {
        this("bench-" + name, "memory:" + name);
    }

    /**
     * @param deviceName the device's name
     * @param address    the address handed to backends, e.g. {@code vfio-user:/path/to.sock}
     * @throws Exception if the dispatcher cannot be created
     */
    public BenchDevice(String deviceName, String address) throws Exception {
        this.dispatcher = IrqDispatcher.create();
        Map<String, Object> props = new HashMap<>();
        props.put(DeviceSettings.NAME, deviceName);
        props.put(DeviceSettings.ADDRESS, address);
        props.put(DeviceSettings.ACCESS_TIMEOUT_MS, 5000L);
        this.device = new CoreDevice(DeviceSettings.from(props), dispatcher, e -> { });
        device.start();
    }

    /** Registers a new memory backend as DS would; returns its service id for {@link #unbind}. */
    public long bind(String backendId) {
        return bind(new MemoryBackend(backendId, 100));
    }

    /** Registers {@code f} as DS would; returns its service id for {@link #unbind}. */
    public long bind(BackendFactory f) {
        String backendId = f.id();
        long id = SERVICE_IDS.incrementAndGet();
        device.addBackend(BackendCandidate.of(f, Map.of(Constants.SERVICE_ID, id, Constants.SERVICE_RANKING, 0,
                BackendFactory.PROP_ID, backendId)));
        return id;
    }

    /** Unregisters the backend with this service id (returns once the device let go of it). */
    public void unbind(long serviceId) {
        device.removeBackend(serviceId);
    }

    /** Waits up to 10 s for BOUND. */
    public void awaitBound() throws InterruptedException {
        if (!device.awaitBound(Duration.ofSeconds(10)) || device.state() != DeviceState.BOUND) {
            throw new IllegalStateException("device not bound within 10 s: " + device.state() + ": "
                    + device.stateReason());
        }
    }

    @Override
    public void close() {
        device.close();
        dispatcher.close();
    }
}
