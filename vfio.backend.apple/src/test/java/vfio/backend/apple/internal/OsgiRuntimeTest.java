package vfio.backend.apple.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * The bundle in a real OSGi framework (Felix, SCR, ConfigAdmin, JNA; no jna-platform) on Linux:
 * it starts, logs that it is deliberately idle and registers no backend; configuring the simulated
 * dext brings a BackendFactory that opens the simulated edu device; deleting the configuration takes
 * it away again. Runs in its own JVM (see the pom). Service objects come from bundle class loaders,
 * so they are called reflectively.
 */
class OsgiRuntimeTest {
    private static final String BACKEND_FACTORY = "vfio.api.backend.BackendFactory";
    private static final String CONNECTOR = "vfio.backend.apple.dext.DextConnector";
    private final List<String> gateLog = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            gateLog.add(r.getMessage());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    private Framework framework;
    private Path storage;

    @BeforeEach
    void start() throws Exception {
        Logger gate = Logger.getLogger("vfio.backend.apple.iokit.MacOsGate");
        gate.setLevel(Level.INFO);
        gate.addHandler(capture);
        storage = Files.createTempDirectory("apple-osgi");
        Map<String, String> config = new HashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        config.put("felix.log.level", "1");
        framework = ServiceLoader.load(FrameworkFactory.class).iterator().next().newFramework(config);
        framework.start();
        BundleContext ctx = framework.getBundleContext();
        List<Bundle> bundles = new ArrayList<>();
        for (String name : List.of("org.osgi.util.function", "org.osgi.util.promise", "org.osgi.service.component-",
                "org.apache.felix.scr", "org.apache.felix.configadmin", "jna-5", "vfio.api", "vfio.posix")) {
            bundles.add(ctx.installBundle(location(name)));
        }
        bundles.add(ctx.installBundle("reference:" + new File("target/classes").toURI()));
        for (Bundle b : bundles) {
            try {
                b.start();
            } catch (org.osgi.framework.BundleException e) {
                throw new AssertionError("cannot start " + b.getSymbolicName() + ": " + e.getMessage(), e);
            }
        }
    }

    /** @return the install location of the classpath entry whose file name starts with {@code prefix} */
    private static String location(String prefix) {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            File f = new File(entry);
            if (f.getName().startsWith(prefix) && f.getName().endsWith(".jar")) {
                return f.toURI().toString();
            }
        }
        throw new IllegalStateException("no " + prefix + "*.jar on the test class path");
    }

    @AfterEach
    void stop() throws Exception {
        Logger.getLogger("vfio.backend.apple.iokit.MacOsGate").removeHandler(capture);
        framework.stop();
        framework.waitForStop(10_000);
        try (var files = Files.walk(storage)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private Bundle bundle(String symbolicName) {
        for (Bundle b : framework.getBundleContext().getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError("bundle " + symbolicName + " not installed");
    }

    private ServiceReference<?>[] services(String objectClass) throws Exception {
        return framework.getBundleContext().getAllServiceReferences(objectClass, null);
    }

    private void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                StringBuilder states = new StringBuilder();
                for (Bundle b : framework.getBundleContext().getBundles()) {
                    states.append("\n  ").append(b.getSymbolicName()).append(" state ").append(b.getState());
                }
                throw new AssertionError("not within 10 s: " + what + "; bundles:" + states);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void idleOnLinuxUntilTheSimulatedDextIsConfigured() throws Exception {
        Bundle apple = bundle("vfio.backend.apple");
        assertThat(apple.getState()).as("resolves and starts without jna-platform").isEqualTo(Bundle.ACTIVE);
        await("the gate's idle message", () -> gateLog.stream().anyMatch(m -> m.contains("deliberately idle")));
        assertThat(services(BACKEND_FACTORY)).as("no backend on Linux without configuration").isNull();
        assertThat(services(CONNECTOR)).isNull();

        Object configuration = configure("vfio.backend.apple.sim", Map.of("bdf", "00:02.0"));
        await("the Apple BackendFactory", () -> present(BACKEND_FACTORY));
        ServiceReference<?> ref = services(BACKEND_FACTORY)[0];
        assertThat(ref.getProperty("vfio.backend.id")).isEqualTo("vfio.backend.apple");
        assertThat(services(CONNECTOR)[0].getProperty("vfio.dext.connector")).isEqualTo("simulated");

        Object factory = framework.getBundleContext().getService(ref);
        Bundle api = bundle("vfio.api");
        Class<?> requestType = api.loadClass("vfio.api.backend.OpenRequest");
        Class<?> factoryType = api.loadClass(BACKEND_FACTORY);
        Class<?> opsType = api.loadClass("vfio.api.backend.DeviceIoOps");
        Object request = requestType.getMethod("of", String.class, String.class).invoke(null, "edu0", "apple:pci:00:02.0");
        Object ops = factoryType.getMethod("open", requestType).invoke(factory, request);
        Method read = opsType.getMethod("regionRead", int.class, long.class, ByteBuffer.class);
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        read.invoke(ops, 7, 0L, b);
        assertThat(b.flip().getInt()).as("config space vendor/device").isEqualTo(0x11e81234);
        b.clear();
        read.invoke(ops, 0, 0L, b);
        assertThat(b.flip().getInt()).as("edu id register in BAR0").isEqualTo(0x010000ed);
        opsType.getMethod("close").invoke(ops);
        framework.getBundleContext().ungetService(ref);

        bundle("org.apache.felix.configadmin").loadClass("org.osgi.service.cm.Configuration").getMethod("delete")
                .invoke(configuration);
        await("the BackendFactory to go away with the simulated dext", () -> !present(BACKEND_FACTORY));
    }

    private boolean present(String objectClass) {
        try {
            return services(objectClass) != null;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private Object configure(String pid, Map<String, Object> properties) throws Exception {
        Bundle cm = bundle("org.apache.felix.configadmin");
        Class<?> adminType = cm.loadClass("org.osgi.service.cm.ConfigurationAdmin");
        Class<?> configType = cm.loadClass("org.osgi.service.cm.Configuration");
        BundleContext ctx = framework.getBundleContext();
        // getAll...: the system bundle's context does not share the CM package, so the class-space check would hide it
        await("ConfigurationAdmin", () -> present(adminType.getName()));
        Object admin = ctx.getService(services(adminType.getName())[0]);
        Object configuration = adminType.getMethod("getConfiguration", String.class, String.class).invoke(admin, pid, "?");
        Dictionary<String, Object> dict = new Hashtable<>(properties);
        configType.getMethod("update", Dictionary.class).invoke(configuration, dict);
        return configuration;
    }
}
