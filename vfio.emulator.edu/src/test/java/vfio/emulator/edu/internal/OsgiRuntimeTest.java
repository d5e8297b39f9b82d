package vfio.emulator.edu.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.function.BooleanSupplier;
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
 * vfio.emulator.edu and vfio.user.server as bundles in a real framework (Felix, SCR, ConfigAdmin):
 * they resolve, the embedded default configures a device and serves edu on its socket, stopping
 * the bundle takes both away; an operator's device configuration or {@code enabled=false} keeps
 * the default off; a {@code vfio.emulator.edu} factory configuration serves edu on its socket.
 * Runs in its own JVM (see the pom); the client side uses the JDK's UNIX-domain channels (no JNA
 * outside the framework), and framework objects are called reflectively (bundle class loaders).
 */
class OsgiRuntimeTest {
    private Framework framework;
    private Path storage;
    private Path dir;

    @BeforeEach
    void start() throws Exception {
        storage = Files.createTempDirectory("edu-osgi");
        dir = Files.createTempDirectory("edu-osgi-sock");
        Map<String, String> config = new HashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        config.put("felix.log.level", "1");
        framework = ServiceLoader.load(FrameworkFactory.class).iterator().next().newFramework(config);
        framework.start();
    }

    /** Installs and starts the runtime; {@code beforeEmulator} runs once ConfigurationAdmin is up. */
    private void install(ThrowingRunnable beforeEmulator) throws Exception {
        BundleContext ctx = framework.getBundleContext();
        List<Bundle> bundles = new ArrayList<>();
        for (String name : List.of("org.osgi.util.function-", "org.osgi.util.promise-", "org.osgi.service.component-",
                "org.apache.felix.scr-", "org.apache.felix.configadmin-", "jna-5", "gson-", "vfio.api-", "vfio.posix-",
                "vfio.user.protocol-", "vfio.user.server-")) {
            bundles.add(ctx.installBundle(location(name)));
        }
        for (Bundle b : bundles) {
            b.start();
        }
        await("ConfigurationAdmin", () -> admin() != null);
        beforeEmulator.run();
        Bundle edu = ctx.installBundle("reference:" + new File("target/classes").toURI());
        edu.start();
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static String location(String prefix) {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            File f = new File(entry);
            if (f.getName().startsWith(prefix) && f.getName().endsWith(".jar") && !f.getName().endsWith("-tests.jar")) {
                return f.toURI().toString();
            }
        }
        throw new IllegalStateException("no " + prefix + "*.jar on the test class path");
    }

    @AfterEach
    void stop() throws Exception {
        framework.stop();
        framework.waitForStop(10_000);
        for (Path p : new Path[] {storage, dir}) {
            try (var files = Files.walk(p)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
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

    private Object admin() {
        try {
            ServiceReference<?>[] refs = framework.getBundleContext()
                    .getAllServiceReferences("org.osgi.service.cm.ConfigurationAdmin", null);
            return refs == null ? null : framework.getBundleContext().getService(refs[0]);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private Class<?> cmType(String name) throws ClassNotFoundException {
        return bundle("org.apache.felix.configadmin").loadClass("org.osgi.service.cm." + name);
    }

    /** @return the properties of every configuration matching {@code filter} */
    @SuppressWarnings("unchecked")
    private List<Dictionary<String, Object>> configurations(String filter) {
        try {
            Object[] configs = (Object[]) cmType("ConfigurationAdmin").getMethod("listConfigurations", String.class)
                    .invoke(admin(), filter);
            List<Dictionary<String, Object>> out = new ArrayList<>();
            for (Object c : configs == null ? new Object[0] : configs) {
                out.add((Dictionary<String, Object>) cmType("Configuration").getMethod("getProperties").invoke(c));
            }
            return out;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private void configure(boolean factory, String pid, String name, Map<String, Object> props) throws Exception {
        Object admin = admin();
        Object c = factory
                ? cmType("ConfigurationAdmin").getMethod("getFactoryConfiguration", String.class, String.class, String.class)
                        .invoke(admin, pid, name, "?")
                : cmType("ConfigurationAdmin").getMethod("getConfiguration", String.class, String.class)
                        .invoke(admin, pid, "?");
        cmType("Configuration").getMethod("update", Dictionary.class).invoke(c, new Hashtable<>(props));
    }

    @Test
    void withNothingConfiguredTheEmbeddedDefaultServesEdu() throws Exception {
        install(() -> { });
        assertThat(bundle("vfio.emulator.edu").getState()).isEqualTo(Bundle.ACTIVE);
        assertThat(bundle("vfio.user.server").getState()).isEqualTo(Bundle.ACTIVE);
        await("the embedded device configuration", () -> !configurations("(service.factoryPid=vfio.device)").isEmpty());
        Dictionary<String, Object> device = configurations("(service.factoryPid=vfio.device)").get(0);
        assertThat(device.get("name")).isEqualTo("edu0");
        String address = (String) device.get("address");
        assertThat(address).startsWith("vfio-user:");
        Path socket = Path.of(address.substring("vfio-user:".length()));
        try (MiniClient c = new MiniClient(socket)) {
            assertThat(c.read(7, 0)).isEqualTo(0x11e81234);
            assertThat(c.read(0, 0)).isEqualTo(0x010000ed);
        }
        bundle("vfio.emulator.edu").stop();
        assertThat(configurations("(service.factoryPid=vfio.device)")).as("configuration deleted").isEmpty();
        assertThat(Files.exists(socket)).isFalse();
    }

    @Test
    void anOperatorsDeviceOrEnabledFalseKeepsTheDefaultOff() throws Exception {
        install(() -> configure(true, "vfio.device", "nic", Map.of("name", "nic", "address", "pci:0000:00:03.0")));
        Thread.sleep(300); // give SCR the chance to do something wrong
        assertThat(configurations("(service.factoryPid=vfio.device)")).hasSize(1);
        assertThat(configurations("(service.factoryPid=vfio.device)").get(0).get("name")).isEqualTo("nic");
    }

    @Test
    void enabledFalseKeepsTheDefaultOff() throws Exception {
        install(() -> configure(false, "vfio.emulator.edu.embedded", null, Map.of("enabled", false)));
        Thread.sleep(300);
        assertThat(configurations("(service.factoryPid=vfio.device)")).isEmpty();
    }

    @Test
    void aFactoryConfigurationServesEduOnItsSocket() throws Exception {
        Path socket = dir.resolve("configured.sock");
        install(() -> configure(false, "vfio.emulator.edu.embedded", null, Map.of("enabled", false)));
        configure(true, "vfio.emulator.edu", "lab", Map.of("socket.path", socket.toString(), "latency.ms", 2L));
        await("the configured socket", () -> Files.exists(socket));
        try (MiniClient c = new MiniClient(socket)) {
            assertThat(c.read(0, 0)).isEqualTo(0x010000ed);
        }
    }

    /** Just enough vfio-user (VERSION, 4-byte REGION_READ) over a JDK UNIX-domain channel. */
    static final class MiniClient implements AutoCloseable {
        private final SocketChannel ch;
        private int id;

        MiniClient(Path socket) throws IOException {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            // The socket file appears at bind(), just before listen(): retry a refused connect briefly.
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (true) {
                try {
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    break;
                } catch (java.net.ConnectException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        throw e;
                    }
                }
            }
            byte[] json = "{\"capabilities\":{}}\0".getBytes(StandardCharsets.UTF_8);
            ByteBuffer body = le(4 + json.length).putShort((short) 0).putShort((short) 1).put(json).flip();
            ByteBuffer reply = call(1, body);
            assertThat(reply.getShort(0)).as("major").isZero();
        }

        int read(int region, long offset) throws IOException {
            ByteBuffer body = le(16).putLong(offset).putInt(region).putInt(4).flip();
            ByteBuffer reply = call(9, body);
            assertThat(reply.remaining()).isEqualTo(20);
            return reply.getInt(16);
        }

        private ByteBuffer call(int command, ByteBuffer body) throws IOException {
            ByteBuffer msg = le(16 + body.remaining());
            msg.putShort((short) ++id).putShort((short) command).putInt(16 + body.remaining()).putInt(0).putInt(0)
                    .put(body).flip();
            while (msg.hasRemaining()) {
                ch.write(msg);
            }
            ByteBuffer header = readFully(16);
            assertThat(header.getShort(0)).as("reply id").isEqualTo((short) id);
            assertThat(header.getInt(8)).as("reply flags (no error)").isEqualTo(1);
            return readFully(header.getInt(4) - 16);
        }

        private ByteBuffer readFully(int n) throws IOException {
            ByteBuffer b = le(n);
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) {
                    throw new IOException("the server closed the connection");
                }
            }
            return b.flip();
        }

        private static ByteBuffer le(int n) {
            return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }
}
