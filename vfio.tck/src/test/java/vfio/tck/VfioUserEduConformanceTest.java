package vfio.tck;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import vfio.backend.user.internal.VfioUserBackendFactory;
import vfio.emulator.edu.EduEmulator;
import vfio.tck.junit.ConformanceTests;

/**
 * The vfio-user backend against the project's vfio-user server serving the edu emulator, over a real
 * UNIX socket, with the edu device's hooks (identification register, DMA registers as scratch, the
 * interrupt raise register, the DMA engine).
 */
class VfioUserEduConformanceTest {
    private static Path dir;
    private static EduEmulator edu;

    @BeforeAll
    static void startEmulator() throws Exception {
        dir = Files.createTempDirectory("vfio-tck-user");
        edu = EduEmulator.start(dir.resolve("edu.sock"));
    }

    @AfterAll
    static void stopEmulator() throws Exception {
        edu.close();
        Files.deleteIfExists(dir.resolve("edu.sock"));
        Files.deleteIfExists(dir);
    }

    @TestFactory
    Stream<DynamicNode> conformance() {
        return ConformanceTests.of(Subject.of(VfioUserBackendFactory.defaults(), "vfio-user:" + edu.socket())
                .withHooks(DeviceProfiles.edu()));
    }
}
