package vfio.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;
import vfio.backend.memory.MemoryBackend;
import vfio.backend.user.internal.VfioUserBackendFactory;

/**
 * A device address cannot make the platform open an arbitrary file. The proof for vfio-user
 * addresses is a FIFO: opening one for reading blocks until a writer comes, so a backend that
 * opened the file it was given would hang here (the timeouts turn that into a failure). Device
 * nodes and regular files are refused by {@code match()} and {@code open()} too. Memory device
 * names cannot leave their directory. The fuzz target feeds arbitrary addresses to both backends'
 * {@code match()}: it must answer (never throw), open no descriptor, and accept only what it
 * documents.
 */
class AddressSafetyTest {
    private static final VfioUserBackendFactory USER = new VfioUserBackendFactory(Duration.ofMillis(200), List.of(),
            1 << 20, true, false);
    private static final MemoryBackend MEMORY = new MemoryBackend("memory", 100);

    @TempDir
    static Path dir;
    private static Path fifo;

    @BeforeAll
    static void files() throws Exception {
        fifo = dir.resolve("fifo");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertThat(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0).as("mkfifo").isTrue();
        Files.writeString(dir.resolve("file"), "secret");
        Files.createSymbolicLink(dir.resolve("link-to-fifo.sock"), fifo);
    }

    @Test
    @Timeout(10)
    void vfioUserAddressesNamingAFifoADeviceOrAFileAreRefusedWithoutOpeningThem() {
        long fds = Leaks.openFds();
        for (String target : List.of(fifo.toString(), dir.resolve("link-to-fifo.sock").toString(), "/dev/zero",
                "/dev/null", dir.resolve("file").toString(), "/etc/passwd", "/proc/self/mem")) {
            Match m = USER.match("vfio-user:" + target);
            assertThat(m.matches()).as(target).isFalse();
            assertThat(m.reason()).as(target).containsAnyOf("not a socket", "does not exist");
            assertThatThrownBy(() -> USER.open(new OpenRequest("t", "vfio-user:" + target, Duration.ofMillis(200), Map.of())))
                    .as(target).isInstanceOf(DeviceException.class);
        }
        assertThat(Leaks.openFds()).isEqualTo(fds);
    }

    @Test
    void memoryNamesCannotLeaveTheirDirectory() {
        for (String name : List.of("../x", "a/b", "/etc/passwd", "..", ".", "a\0b", "A", "-a", "a".repeat(65), "")) {
            assertThat(MEMORY.match("memory:" + name).matches()).as(name).isFalse();
            assertThatThrownBy(() -> MEMORY.open(new OpenRequest("t", "memory:" + name, Duration.ofMillis(200), Map.of())))
                    .as(name).isInstanceOf(DeviceException.class);
        }
    }

    /** Arbitrary addresses: both backends answer, open nothing, and accept only their documented forms. */
    @FuzzTest(maxDuration = "20s")
    void addresses(byte[] input) throws Exception {
        Script s = new Script(input);
        String rest = new String(s.run(), java.nio.charset.StandardCharsets.UTF_8);
        // A quarter of the inputs start in the directory that holds the FIFO, the file and the link.
        String address = switch (s.u8() & 3) {
            case 0 -> "vfio-user:" + dir + "/" + rest;
            case 1 -> "vfio-user:" + rest;
            case 2 -> "memory:" + rest;
            default -> rest;
        };
        long fds = Leaks.openFds();
        Match user = USER.match(address);
        Match memory = MEMORY.match(address);
        if (user.matches()) {
            throw new AssertionError("vfio-user matched " + address + " although no socket exists: " + user.reason());
        }
        if (memory.matches() && !address.substring("memory:".length()).matches("[a-z0-9][a-z0-9-]{0,63}")) {
            throw new AssertionError("memory matched the name in " + address);
        }
        if (Leaks.openFds() != fds) {
            throw new AssertionError("match(" + address + ") left a descriptor open");
        }
    }
}
