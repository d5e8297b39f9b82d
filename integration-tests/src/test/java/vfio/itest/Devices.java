package vfio.itest;

import java.time.Duration;
import java.util.Collection;
import java.util.Dictionary;
import java.util.Hashtable;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import vfio.api.backend.BackendFactory;
import vfio.api.device.Device;
import vfio.api.device.DeviceState;

/** Creating device configurations and waiting for device services and states, for the tests. */
final class Devices {
    private Devices() {
    }

    static Configuration configure(ConfigurationAdmin cm, String name, String address, String... keyValues)
            throws Exception {
        Configuration c = cm.getFactoryConfiguration("vfio.device", name, "?");
        Dictionary<String, Object> p = new Hashtable<>();
        p.put("name", name);
        p.put("address", address);
        for (int i = 0; i < keyValues.length; i += 2) {
            p.put(keyValues[i], keyValues[i + 1]);
        }
        c.update(p);
        return c;
    }

    /**
     * Configures a memory device named {@code name} (its state file private to this JVM) with a
     * 10 s access timeout, and waits until it is bound.
     */
    static Device boundMemoryDevice(ConfigurationAdmin cm, BundleContext context, String name) throws Exception {
        configure(cm, name, "memory:itest-" + name + "-" + ProcessHandle.current().pid(), "access.timeout.ms", "10000");
        Device device = await(context, name, Duration.ofSeconds(10));
        awaitState(device, DeviceState.BOUND, Duration.ofSeconds(10));
        return device;
    }

    /** Configures an instance of the memory backend (a factory configuration) with that id and match score. */
    static Configuration memoryBackend(ConfigurationAdmin cm, String id, int score) throws Exception {
        Configuration c = cm.getFactoryConfiguration("vfio.backend.memory", id, "?");
        Dictionary<String, Object> p = new Hashtable<>();
        p.put("vfio.backend.id", id);
        p.put("score", score);
        c.update(p);
        return c;
    }

    /** Waits until a backend with that id is registered (ConfigurationAdmin creates them asynchronously). */
    static void awaitBackendService(BundleContext context, String id, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (context.getServiceReferences(BackendFactory.class, "(" + BackendFactory.PROP_ID + "=" + id + ")").isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("backend " + id + " not registered within " + timeout);
            }
            Thread.sleep(5);
        }
    }

    /** @return the installed bundle with that symbolic name */
    static Bundle installed(BundleContext context, String symbolicName) {
        for (Bundle b : context.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError(symbolicName + " is not installed");
    }

    static Device await(BundleContext context, String name, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Collection<ServiceReference<Device>> refs =
                    context.getServiceReferences(Device.class, "(" + Device.PROP_NAME + "=" + name + ")");
            if (!refs.isEmpty()) {
                return context.getService(refs.iterator().next());
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no Device service named " + name + " within " + timeout);
    }

    /** @return milliseconds it took */
    static long awaitState(Device d, DeviceState state, Duration timeout) throws InterruptedException {
        long t0 = System.nanoTime();
        long deadline = t0 + timeout.toNanos();
        while (d.state() != state) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(d.name() + " did not become " + state + " within " + timeout
                        + "; it is " + d.state() + ": " + d.stateReason());
            }
            Thread.sleep(2);
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    static void awaitBackend(Device d, String backendId, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!(d.state() == DeviceState.BOUND && d.backendId().filter(backendId::equals).isPresent())) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(d.name() + " not bound to " + backendId + " within " + timeout + "; it is "
                        + d.state() + " on " + d.backendId().orElse("nothing") + ": " + d.stateReason());
            }
            Thread.sleep(5);
        }
    }
}
