package vfio.core.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import vfio.api.backend.BackendFactory;
import vfio.api.device.Device;
import vfio.api.device.DeviceEvent;
import vfio.core.irq.IrqDispatcher;
import vfio.core.testing.MemoryBackendFactory;
import vfio.core.testing.MemoryDevice;

/**
 * The DS adapter, with a fake BundleContext that records the device service registration (a unit
 * test of the adapter's logic; the OSGi wiring itself is the integration tests' job).
 */
class DeviceComponentTest {
    private final List<Map<String, Object>> propertyUpdates = new CopyOnWriteArrayList<>();
    private final List<String> calls = new CopyOnWriteArrayList<>();
    private Object registered;
    private final IrqDispatcher dispatcher = IrqDispatcher.create();
    private final MemoryDevice memory = MemoryDevice.pci(DeviceRig.ADDRESS);

    DeviceComponentTest() throws Exception {
    }

    @AfterEach
    void close() {
        dispatcher.close();
        memory.close();
    }

    private BundleContext context() {
        ServiceRegistration<?> reg = (ServiceRegistration<?>) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ServiceRegistration.class}, (p, m, args) -> {
                    switch (m.getName()) {
                        case "setProperties" -> propertyUpdates.add(toMap((Dictionary<?, ?>) args[0]));
                        case "unregister" -> calls.add("unregister");
                        default -> throw new UnsupportedOperationException(m.getName());
                    }
                    return null;
                });
        return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {BundleContext.class},
                (p, m, args) -> {
                    if (m.getName().equals("registerService") && args[0] == Device.class) {
                        registered = args[1];
                        propertyUpdates.add(toMap((Dictionary<?, ?>) args[2]));
                        return reg;
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }

    private static Map<String, Object> toMap(Dictionary<?, ?> d) {
        Map<String, Object> m = new HashMap<>();
        for (var k = d.keys(); k.hasMoreElements(); ) {
            Object key = k.nextElement();
            m.put((String) key, d.get(key));
        }
        return m;
    }

    private static Map<String, Object> config(String pid, String name) {
        return Map.of("service.pid", pid, DeviceSettings.NAME, name, DeviceSettings.ADDRESS, DeviceRig.ADDRESS);
    }

    @Test
    void registersTheDeviceAndKeepsItsStateAndBackendPropertiesCurrent() throws Exception {
        DeviceComponent c = new DeviceComponent(context(), config("vfio.device~a", "nicA"), dispatcher);
        assertThat(registered).isInstanceOf(CoreDevice.class);
        assertThat(propertyUpdates.get(0)).containsEntry(Device.PROP_NAME, "nicA")
                .containsEntry(Device.PROP_ADDRESS, DeviceRig.ADDRESS).containsEntry(Device.PROP_STATE, "UNBOUND")
                .doesNotContainKey(Device.PROP_BACKEND);
        List<DeviceEvent> events = new CopyOnWriteArrayList<>();
        c.addListener(events::add);
        MemoryBackendFactory f = new MemoryBackendFactory("mem", memory);
        Map<String, Object> service = Map.of("service.id", 7L, BackendFactory.PROP_ID, "mem");
        c.bindBackend(f, service);
        c.start(); // as SCR: after the constructor and the bind methods
        Device d = (Device) registered;
        assertThat(d.awaitBound(Duration.ofSeconds(10))).isTrue();
        awaitProperty(Device.PROP_STATE, "BOUND");
        assertThat(propertyUpdates.get(propertyUpdates.size() - 1)).containsEntry(Device.PROP_BACKEND, "mem");
        assertThat(events).anySatisfy(e -> assertThat(e.backendId()).isEqualTo("mem"));

        c.unbindBackend(f, service); // returns once the device let go of the backend
        assertThat(f.closes()).isEqualTo(1);
        awaitProperty(Device.PROP_STATE, "UNBOUND");

        c.deactivate();
        assertThat(calls).containsExactly("unregister");
    }

    @Test
    void aStickyDeviceBindsToTheBestBackendOfThoseBoundBeforeActivationFinished() throws Exception {
        // SCR binds the backends present at activation one by one; binding starts only after the
        // last, so the order SCR picks cannot leave a sticky device on a worse backend (the Pax Exam
        // BindingPolicyTest once saw exactly that).
        Map<String, Object> cfg = new HashMap<>(config("vfio.device~s", "nicS"));
        cfg.put(DeviceSettings.REBIND_POLICY, "sticky");
        DeviceComponent c = new DeviceComponent(context(), cfg, dispatcher);
        MemoryBackendFactory low = new MemoryBackendFactory("low", memory);
        low.setScore(50);
        MemoryBackendFactory high = new MemoryBackendFactory("high", memory);
        high.setScore(150);
        c.bindBackend(low, Map.of("service.id", 1L, BackendFactory.PROP_ID, "low"));
        Thread.sleep(50); // time enough for a binder that had started to choose "low"
        c.bindBackend(high, Map.of("service.id", 2L, BackendFactory.PROP_ID, "high"));
        c.start();
        Device d = (Device) registered;
        assertThat(d.awaitBound(Duration.ofSeconds(10))).isTrue();
        assertThat(d.backendId()).contains("high");
        assertThat(low.opens()).isZero();
        c.deactivate();
    }

    @Test
    void aSecondConfigurationWithTheSameNameIsRefusedUntilTheFirstIsGone() throws Exception {
        DeviceComponent first = new DeviceComponent(context(), config("vfio.device~a", "nicB"), dispatcher);
        assertThatThrownBy(() -> new DeviceComponent(context(), config("vfio.device~b", "nicB"), dispatcher))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'nicB'")
                .hasMessageContaining("vfio.device~b").hasMessageContaining("already used by configuration vfio.device~a");
        first.deactivate();
        new DeviceComponent(context(), config("vfio.device~b", "nicB"), dispatcher).deactivate();
    }

    @Test
    void aModifiedConfigurationRenamesTheDeviceInPlace() throws Exception {
        DeviceComponent c = new DeviceComponent(context(), config("vfio.device~a", "nicC"), dispatcher);
        Object device = registered;
        c.modified(config("vfio.device~a", "nicD"));
        assertThat(propertyUpdates.get(propertyUpdates.size() - 1)).containsEntry(Device.PROP_NAME, "nicD");
        assertThat(((Device) device).name()).isEqualTo("nicD");
        // the old name is free again
        new DeviceComponent(context(), config("vfio.device~x", "nicC"), dispatcher).deactivate();
        c.deactivate();
    }

    @Test
    void anInvalidConfigurationFailsActivationWithTheReason() {
        Map<String, Object> bad = new HashMap<>(config("vfio.device~a", "nicE"));
        bad.put(DeviceSettings.ACCESS_TIMEOUT_MS, -5L);
        assertThatThrownBy(() -> new DeviceComponent(context(), bad, dispatcher))
                .hasMessageContaining("device nicE: access.timeout.ms -5 is outside 1..600000");
        assertThat(registered).isNull();
    }

    private void awaitProperty(String key, Object value) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!value.equals(propertyUpdates.get(propertyUpdates.size() - 1).get(key))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(key + " never became " + value + ": " + propertyUpdates);
            }
            Thread.sleep(2);
        }
    }
}
