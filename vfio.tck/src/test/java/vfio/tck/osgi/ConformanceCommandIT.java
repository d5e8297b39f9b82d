package vfio.tck.osgi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * The kit inside a real OSGi framework (Felix, SCR, Gogo runtime, the memory backend and the kit's
 * bundle from target/, no JUnit bundle): the bundle resolves without JUnit, its DS component
 * registers the {@code vfio:conformance} command, and the command runs the kit against the
 * registered memory backend and prints the table; an unknown backend id is refused.
 */
class ConformanceCommandIT {
    private static Path storage;
    private static Framework framework;

    @BeforeAll
    static void startFramework() throws Exception {
        storage = Files.createTempDirectory("vfio-tck-osgi");
        FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class).iterator().next();
        framework = factory.newFramework(Map.of(Constants.FRAMEWORK_STORAGE, storage.toString(),
                Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT));
        framework.start();
        BundleContext ctx = framework.getBundleContext();
        List<Bundle> bundles = new ArrayList<>();
        try (DirectoryStream<Path> jars = Files.newDirectoryStream(Path.of(System.getProperty("bundles.dir")), "*.jar")) {
            for (Path jar : jars) {
                bundles.add(ctx.installBundle(jar.toUri().toString()));
            }
        }
        bundles.add(ctx.installBundle(Path.of(System.getProperty("tck.bundle")).toUri().toString()));
        for (Bundle b : bundles) {
            b.start();
        }
    }

    @AfterAll
    static void stopFramework() throws Exception {
        framework.stop();
        framework.waitForStop(10_000);
        try (Stream<Path> files = Files.walk(storage)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        Files.deleteIfExists(Path.of("/dev/shm/vfio-memory/tck-osgi-" + ProcessHandle.current().pid()));
    }

    private static Bundle bundle(String symbolicName) {
        for (Bundle b : framework.getBundleContext().getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError("no bundle " + symbolicName);
    }

    @Test
    void theKitBundleResolvesWithoutJUnit() {
        assertThat(bundle("vfio.tck").getState()).isEqualTo(Bundle.ACTIVE);
        assertThat(framework.getBundleContext().getBundles()).noneMatch(b -> b.getSymbolicName().contains("junit"));
    }

    @Test
    void theCommandRunsTheKitPrintsTheTableAndFailsWhenAChecksFails() throws Exception {
        BundleContext ctx = framework.getBundleContext();
        ServiceReference<?> ref = await(ctx, "org.apache.felix.service.command.CommandProcessor");
        Object processor = ctx.getService(ref);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        Method create = processor.getClass().getMethod("createSession", java.io.InputStream.class,
                java.io.OutputStream.class, java.io.OutputStream.class);
        Object session = create.invoke(processor, new ByteArrayInputStream(new byte[0]), print, print);
        Method execute = session.getClass().getMethod("execute", CharSequence.class);
        execute.setAccessible(true);
        String address = "memory:tck-osgi-" + ProcessHandle.current().pid();
        execute.invoke(session, "vfio:conformance vfio.backend.memory " + address);
        String table = out.toString(StandardCharsets.UTF_8);
        assertThat(table).contains("Conformance of backend vfio.backend.memory on " + address)
                .containsPattern("bounds\\.region-index\\s+PASSED")
                .containsPattern("map\\.unmap-keeps-revoked-range\\s+PASSED")
                .containsPattern("irq\\.device-raise-fires\\s+PASSED") // hooks found by the device's PCI IDs
                .contains("52 checks: 50 passed, 0 failed, 2 skipped");
        assertThatThrownBy(() -> {
            try {
                execute.invoke(session, "vfio:conformance no.such.backend " + address);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }).hasMessageContaining("no backend with vfio.backend.id=no.such.backend").hasMessageContaining("vfio.backend.memory");
    }

    private static ServiceReference<?> await(BundleContext ctx, String type) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            // all references: the test's class path has its own copy of Gogo's classes, which the
            // framework would otherwise treat as a different, incompatible service type
            ServiceReference<?>[] refs = ctx.getAllServiceReferences(type, null);
            if (refs != null) {
                return refs[0];
            }
            Thread.sleep(20);
        }
        throw new AssertionError(type + " was not registered within 10 s");
    }
}
