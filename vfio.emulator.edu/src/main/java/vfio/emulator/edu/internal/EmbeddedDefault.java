package vfio.emulator.edu.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.stream.Stream;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import vfio.emulator.edu.EduEmulator;

/**
 * The platform's default device: when no device is configured (no configuration of factory PID
 * {@code vfio.device}), start an edu emulation on a private socket and configure a device bound
 * to it through vfio-user ({@code name=edu0}, {@code address=vfio-user:<socket>}), so a fresh
 * installation shows a working device on any machine. Deactivation deletes that configuration and
 * stops the emulation. An operator switches this off with {@code enabled=false} in configuration
 * {@code vfio.emulator.edu.embedded}.
 *
 * <p>The socket lives in a new directory with mode 0700 under {@code $XDG_RUNTIME_DIR} (else
 * {@code java.io.tmpdir}), named {@code vfio-<pid>-<random>}. The device configuration carries
 * {@value #MARKER}=true, so one left behind by a killed process (with a persistent configuration
 * store) is recognised and replaced rather than counted as an operator's device.
 */
@Component(configurationPid = EmbeddedDefault.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL, immediate = true,
        service = {})
@Designate(ocd = EmbeddedDefault.Config.class)
public final class EmbeddedDefault {
    static final String PID = "vfio.emulator.edu.embedded";
    static final String DEVICE_FACTORY_PID = "vfio.device";
    static final String MARKER = "vfio.emulator.edu.embedded";
    private static final int MAX_SOCKET_PATH = 107;
    private static final System.Logger LOG = System.getLogger(EmbeddedDefault.class.getName());

    @ObjectClassDefinition(name = "Embedded default device",
            description = "With no vfio.device configured, serve an emulated edu device and configure a device for it.")
    public @interface Config {
        @AttributeDefinition(name = "Enabled", description = "Start the default device when no device is configured.")
        boolean enabled() default true;

        @AttributeDefinition(name = "Device name", description = "The name of the configured device.")
        String device_name() default "edu0";

        @AttributeDefinition(name = "Latency (ms)", description = "Delay before a factorial or a DMA completes.", min = "0")
        long latency_ms() default 1;
    }

    private final Configuration deviceConfiguration;
    private final EduEmulator emulator;
    private final Path directory;

    /** Where the core's Device service for our configuration shows up; null outside OSGi. */
    private final BundleContext context;
    private final String name;

    @Activate
    public EmbeddedDefault(@Reference ConfigurationAdmin configurationAdmin, Config config, BundleContext context)
            throws IOException {
        this(configurationAdmin, config.enabled(), config.device_name(), Duration.ofMillis(config.latency_ms()), context);
    }

    /** The same with plain values (for tests). */
    EmbeddedDefault(ConfigurationAdmin cm, boolean enabled, String name, Duration latency) throws IOException {
        this(cm, enabled, name, latency, null);
    }

    private EmbeddedDefault(ConfigurationAdmin cm, boolean enabled, String name, Duration latency, BundleContext context)
            throws IOException {
        this.context = context;
        this.name = name;
        if (!enabled) {
            LOG.log(Level.INFO, "embedded default device disabled by configuration " + PID);
            deviceConfiguration = null;
            emulator = null;
            directory = null;
            return;
        }
        deleteLeftovers(cm);
        Configuration[] devices = list(cm, "(service.factoryPid=" + DEVICE_FACTORY_PID + ")");
        if (devices != null && devices.length > 0) {
            LOG.log(Level.INFO, devices.length + " device(s) configured; no embedded default device");
            deviceConfiguration = null;
            emulator = null;
            directory = null;
            return;
        }
        directory = privateDirectory();
        EduEmulator started = null;
        try {
            started = EduEmulator.start(directory.resolve("edu.sock"), latency);
            Configuration c = cm.getFactoryConfiguration(DEVICE_FACTORY_PID, name, "?");
            Dictionary<String, Object> props = new Hashtable<>();
            props.put("name", name);
            props.put("address", "vfio-user:" + started.socket());
            props.put(MARKER, Boolean.TRUE);
            c.update(props);
            deviceConfiguration = c;
            emulator = started;
            LOG.log(Level.INFO, "no device configured: serving an emulated edu device as " + name + " on "
                    + started.socket());
        } catch (IOException | RuntimeException e) {
            if (started != null) {
                started.close();
            }
            deleteTree(directory);
            throw e;
        }
    }

    private static Configuration[] list(ConfigurationAdmin cm, String filter) throws IOException {
        try {
            return cm.listConfigurations(filter);
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException("bad filter " + filter, e);
        }
    }

    private static void deleteLeftovers(ConfigurationAdmin cm) throws IOException {
        Configuration[] ours = list(cm, "(&(service.factoryPid=" + DEVICE_FACTORY_PID + ")(" + MARKER + "=true))");
        for (Configuration c : ours == null ? new Configuration[0] : ours) {
            LOG.log(Level.INFO, "deleting the embedded default device configuration " + c.getPid()
                    + " left behind by an earlier run");
            c.delete();
        }
    }

    /** @return a new directory, mode 0700, for the socket; short enough for a socket path */
    static Path privateDirectory() throws IOException {
        String prefix = "vfio-" + ProcessHandle.current().pid() + "-";
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        for (String base : new String[] {runtime, System.getProperty("java.io.tmpdir"), "/tmp"}) {
            if (base == null || base.isBlank() || !Files.isDirectory(Path.of(base)) || !Files.isWritable(Path.of(base))) {
                continue;
            }
            Path dir = Files.createTempDirectory(Path.of(base), prefix,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            if (dir.resolve("edu.sock").toString().length() <= MAX_SOCKET_PATH) {
                return dir;
            }
            Files.delete(dir); // too long for a UNIX socket path: try the next base
        }
        throw new IOException("no writable directory for the embedded device's socket ($XDG_RUNTIME_DIR, java.io.tmpdir, /tmp)");
    }

    /** @return the socket of the embedded device, or null if none was started */
    Path socket() {
        return emulator == null ? null : emulator.socket();
    }

    @Deactivate
    void deactivate() {
        if (deviceConfiguration != null) {
            try {
                deviceConfiguration.delete();
                awaitDeviceGone(Duration.ofSeconds(1));
            } catch (IOException | IllegalStateException e) {
                LOG.log(Level.WARNING, "cannot delete the embedded device configuration " + deviceConfiguration, e);
            }
        }
        if (emulator != null) {
            emulator.close();
        }
        if (directory != null) {
            deleteTree(directory);
        }
    }

    /**
     * Lets the core unbind the device before the server goes: otherwise the client sees its server
     * vanish and logs a failure at every shutdown. Bounded, because the core may be stopping too.
     */
    private void awaitDeviceGone(Duration timeout) {
        if (context == null) {
            return;
        }
        String filter = "(&(objectClass=vfio.api.device.Device)(vfio.device.name=" + name + "))";
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (context.getServiceReferences((String) null, filter) != null && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        } catch (InvalidSyntaxException | IllegalStateException e) {
            // a device name that is not a valid filter value, or our bundle is already stopped: nothing to wait for
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "cannot remove " + dir, e);
        }
    }
}
