package vfio.core.device;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.osgi.framework.Constants;
import vfio.api.backend.BackendFactory;
import vfio.api.device.DeviceEvent;
import vfio.api.device.DeviceState;
import vfio.core.irq.IrqDispatcher;
import vfio.core.testing.MemoryBackendFactory;
import vfio.core.testing.MemoryDevice;

/**
 * A {@link CoreDevice} on a {@link MemoryDevice}, with real dispatcher and backends, and the
 * service bookkeeping DS would do (service ids, rankings). For tests of every core package.
 */
public final class DeviceRig implements AutoCloseable {
    public static final String ADDRESS = "mem:test0";
    private static final AtomicLong SERVICE_IDS = new AtomicLong(100);

    public final MemoryDevice memory;
    public final IrqDispatcher dispatcher;
    public final CoreDevice device;
    public final List<DeviceEvent> events = new CopyOnWriteArrayList<>();
    private final Map<BackendFactory, Long> serviceIds = new HashMap<>();

    public DeviceRig() throws Exception {
        this(Map.of());
    }

    /** @param extra configuration properties on top of name, address and a 2 s access timeout */
    public DeviceRig(Map<String, Object> extra) throws Exception {
        this(IrqDispatcher.create(), extra);
    }

    public DeviceRig(IrqDispatcher dispatcher, Map<String, Object> extra) throws Exception {
        this.memory = MemoryDevice.pci(ADDRESS);
        this.dispatcher = dispatcher;
        Map<String, Object> props = new HashMap<>();
        props.put(DeviceSettings.NAME, "dev0");
        props.put(DeviceSettings.ADDRESS, ADDRESS);
        props.put(DeviceSettings.ACCESS_TIMEOUT_MS, 2000L);
        props.putAll(extra);
        this.device = new CoreDevice(DeviceSettings.from(props), dispatcher, events::add);
        device.start();
    }

    /** A new memory backend on this rig's device (not yet registered). */
    public MemoryBackendFactory backend(String id) {
        return new MemoryBackendFactory(id, memory);
    }

    /** Registers {@code f} as DS would, with ranking 0. */
    public MemoryBackendFactory register(MemoryBackendFactory f) {
        return register(f, 0);
    }

    /** Registers {@code f} as DS would. */
    public synchronized MemoryBackendFactory register(MemoryBackendFactory f, int ranking) {
        long id = serviceIds.computeIfAbsent(f, k -> SERVICE_IDS.incrementAndGet());
        device.addBackend(BackendCandidate.of(f, properties(f, id, ranking)));
        return f;
    }

    /** Re-registers {@code f} with new properties (a service modification). */
    public synchronized void modify(MemoryBackendFactory f, int ranking) {
        device.updateBackend(BackendCandidate.of(f, properties(f, serviceIds.get(f), ranking)));
    }

    /** Unregisters {@code f} (returns once the device has let go of it). */
    public synchronized void unregister(MemoryBackendFactory f) {
        Long id = serviceIds.remove(f);
        if (id != null) {
            device.removeBackend(id);
        }
    }

    private static Map<String, Object> properties(BackendFactory f, long serviceId, int ranking) {
        return Map.of(Constants.SERVICE_ID, serviceId, Constants.SERVICE_RANKING, ranking,
                BackendFactory.PROP_ID, f.id());
    }

    /** Waits (up to 10 s) until the device is bound to {@code backendId}. */
    public void awaitBoundTo(String backendId) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!(device.state() == DeviceState.BOUND && device.backendId().orElse("").equals(backendId))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("device not bound to " + backendId + " within 10 s: " + device.state() + ": "
                        + device.stateReason());
            }
            Thread.sleep(2);
        }
    }

    /** Waits (up to 10 s) until the device is in {@code state}. */
    public void awaitState(DeviceState state) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (device.state() != state) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("device not " + state + " within 10 s: " + device.state() + ": "
                        + device.stateReason());
            }
            Thread.sleep(2);
        }
    }

    @Override
    public void close() {
        device.close();
        dispatcher.close();
        memory.close();
    }
}
