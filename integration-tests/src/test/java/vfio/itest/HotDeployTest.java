package vfio.itest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot deploy, end to end with the exported jar as a real process: {@code java -jar
 * vfio-platform.jar} runs in a fresh working directory with its console on a pipe, and the test
 * drops files the way an operator would. A device configuration file in the config folder (here
 * moved elsewhere with {@code -Dvfio.config}) creates the device; the memory backend's jar dropped
 * into {@code ./deploy} (the default folder) binds it; the jar replaced by another version rebinds it
 * to the new bundle with the device's state intact; the jar deleted unbinds it.
 *
 * <p>Needs {@code vfio.distribution/target/vfio-platform.jar} (built by {@code mvn verify} before
 * this module). Each step waits at most {@link #STEP_MILLIS}; the child process is always killed.
 */
class HotDeployTest {
    private static final long STEP_MILLIS = 30_000;

    @TempDir
    Path work;

    private Process platform;
    private Writer console;
    private final BlockingQueue<String> output = new LinkedBlockingQueue<>();
    private int marks;
    private final String memName = "hd" + ProcessHandle.current().pid() + "-" + Long.toHexString(System.nanoTime());

    @BeforeEach
    void start() throws IOException {
        Path jar = moduleDir().resolve("../vfio.distribution/target/vfio-platform.jar").normalize();
        if (!Files.isRegularFile(jar)) {
            fail("the exported platform jar " + jar + " is missing: build it with"
                    + " 'mvn -pl vfio.distribution -am package' (mvn verify builds it before this module)");
        }
        Files.createDirectories(work.resolve("deploy"));
        Files.createDirectories(work.resolve("configs"));
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        if (Runtime.version().feature() >= 24) {
            cmd.add("--sun-misc-unsafe-memory-access=allow"); // Felix still uses sun.misc.Unsafe
        }
        cmd.add("-Dvfio.config=" + work.resolve("configs"));
        cmd.add("-jar");
        cmd.add(jar.toString());
        platform = new ProcessBuilder(cmd).directory(work.toFile())
                .redirectError(work.resolve("platform.log").toFile()).start();
        console = new OutputStreamWriter(platform.getOutputStream(), StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(platform.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    output.add(line);
                }
            } catch (IOException e) {
                // the process went away; the waiting side reports it
            }
        }, "platform-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (platform != null && platform.isAlive()) {
                try {
                    console.write("exit\n");
                    console.flush();
                } catch (IOException e) {
                    // already closing
                }
                if (!platform.waitFor(10, TimeUnit.SECONDS)) {
                    platform.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
        } finally {
            if (platform != null) {
                platform.destroyForcibly();
            }
            Files.deleteIfExists(Path.of("/dev/shm/vfio-memory", memName));
        }
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void dropReplaceAndDeleteABackendJar() throws Exception {
        Path deployed = work.resolve("deploy/vfio.backend.memory.jar");
        File backendJar = new File(System.getProperty("bundles.dir", moduleDir().resolve("target/bundles").toString()),
                "vfio.backend.memory.jar");
        assertThat(backendJar).as("memory backend bundle copied by the build").isFile();

        // A device configuration file: the device appears, but nothing can serve memory: yet.
        Path deviceFile = work.resolve("configs/vfio.device-mem.cfg");
        byte[] deviceConfig = ("name = mem\naddress = memory:" + memName + "\n").getBytes(StandardCharsets.UTF_8);
        drop(deviceFile, deviceConfig);
        FileTime deviceFileTime = Files.getLastModifiedTime(deviceFile);
        awaitDevice(row -> row.contains("UNBOUND") && row.contains("no backend can serve"), "unbound, no backend");

        long t0 = System.nanoTime();
        drop(deployed, Files.readAllBytes(backendJar.toPath()));
        awaitDevice(row -> row.contains(" BOUND ") && row.contains("vfio.backend.memory"), "bound to the dropped backend");
        report("drop jar -> BOUND", t0);
        assertThat(command("lb vfio.backend.memory")).anyMatch(l -> l.contains("Active") && l.contains("(0.1.0."));
        command("vfio:write mem bar0 0x100 0x5eed1234");

        t0 = System.nanoTime();
        drop(deployed, Files.readAllBytes(BundleVersions.withVersion(backendJar, "0.1.1").toPath()));
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STEP_MILLIS);
        while (command("lb vfio.backend.memory").stream().noneMatch(l -> l.contains("Active") && l.contains("(0.1.1)"))) {
            assertThat(System.nanoTime()).as("bundle updated to 0.1.1 in time").isLessThan(deadline);
            Thread.sleep(100);
        }
        awaitDevice(row -> row.contains(" BOUND ") && row.contains("vfio.backend.memory"), "bound to the new version");
        report("replace jar -> BOUND to 0.1.1", t0);
        assertThat(command("vfio:read mem bar0 0x100")).anyMatch(l -> l.contains("0x5eed1234"));

        t0 = System.nanoTime();
        Files.delete(deployed);
        awaitDevice(row -> row.contains("UNBOUND") && row.contains("no backend can serve"), "unbound after the jar is deleted");
        report("delete jar -> UNBOUND", t0);
        assertThat(command("lb vfio.backend.memory")).noneMatch(l -> l.contains("vfio.backend.memory"));

        console.write("exit\n");
        console.flush();
        assertThat(platform.waitFor(STEP_MILLIS, TimeUnit.MILLISECONDS)).as("platform exits on 'exit'").isTrue();
        assertThat(platform.exitValue()).isZero();
        // The operator's file is read, never rewritten (a rewrite cut short by the exit emptied it).
        assertThat(Files.readAllBytes(deviceFile)).isEqualTo(deviceConfig);
        assertThat(Files.getLastModifiedTime(deviceFile)).isEqualTo(deviceFileTime);
    }

    /** Writes next to the target and moves it in, so FileInstall never sees a half-written file. */
    private static void drop(Path target, byte[] content) throws IOException {
        Path tmp = target.getParent().resolveSibling(target.getFileName() + ".tmp");
        Files.write(tmp, content);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private void awaitDevice(Predicate<String> condition, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STEP_MILLIS);
        Optional<String> row = Optional.empty();
        while (System.nanoTime() < deadline) {
            row = command("vfio:devices").stream().filter(l -> l.startsWith("mem ")).findFirst();
            if (row.isPresent() && condition.test(row.get())) {
                return;
            }
            Thread.sleep(100);
        }
        fail("device mem not " + what + " within " + STEP_MILLIS + " ms; last row: " + row.orElse("(none)")
                + "\n" + logTail());
    }

    /**
     * Runs one console line and returns its output. The line is followed by a Gogo assignment
     * ({@code m = MARK}), whose value the console prints: everything before that line is the output.
     * A failed command ends the console (scripted mode stops at the first failure).
     */
    private List<String> command(String line) throws Exception {
        String mark = "hot-deploy-mark-" + (++marks);
        console.write(line + "\n" + "m = " + mark + "\n");
        console.flush();
        List<String> lines = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STEP_MILLIS);
        while (true) {
            String next = output.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (next == null) {
                fail("no answer to '" + line + "' within " + STEP_MILLIS + " ms (platform "
                        + (platform.isAlive() ? "running" : "exited with " + platform.exitValue())
                        + "); output so far: " + lines + "\n" + logTail());
            }
            if (next.equals(mark)) {
                return lines;
            }
            lines.add(next);
        }
    }

    /** The end of the platform's stderr (the working directory is deleted after the test). */
    private String logTail() {
        try {
            List<String> log = Files.readAllLines(work.resolve("platform.log"), StandardCharsets.UTF_8);
            return "platform stderr (last lines):\n" + String.join("\n", log.subList(Math.max(0, log.size() - 40), log.size()));
        } catch (IOException e) {
            return "platform stderr unreadable: " + e;
        }
    }

    private static void report(String step, long startNanos) {
        System.out.printf("hot deploy: %s in %d ms%n", step, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    }

    private static Path moduleDir() {
        return Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    }
}
