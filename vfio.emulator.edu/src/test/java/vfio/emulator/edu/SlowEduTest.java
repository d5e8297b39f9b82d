package vfio.emulator.edu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import vfio.user.server.testing.TestClient;

/** Behaviour while work is in progress, with a latency long enough to observe it. */
class SlowEduTest {
    @TempDir
    Path dir;

    @Test
    void writesWhileBusyAreIgnored() throws Exception {
        try (EduEmulator edu = EduEmulator.start(dir.resolve("slow.sock"), Duration.ofMillis(300));
                TestClient c = TestClient.open(edu.socket(), null)) {
            c.write(0, 0x08, 4, 5);
            assertThat(c.read(0, 0x20, 4) & 1).as("computing").isEqualTo(1);
            c.write(0, 0x08, 4, 6);
            EduEmulatorTest.awaitClear(c, 0x20, 4, 1);
            assertThat(c.read(0, 0x08, 4)).isEqualTo(120);

            EduEmulatorTest.dma(c, 0x1000, 0x40000, 4, 0x1);
            c.write(0, 0x80, 8, 0x2000);
            c.write(0, 0x98, 8, 0x3);
            assertThat(c.read(0, 0x80, 8)).as("DMA registers are locked while it runs").isEqualTo(0x1000);
            assertThat(c.read(0, 0x98, 8)).isEqualTo(0x1);
            EduEmulatorTest.awaitClear(c, 0x98, 8, 1);
            c.write(0, 0x80, 8, 0x2000);
            assertThat(c.read(0, 0x80, 8)).isEqualTo(0x2000);
        }
    }

    @Test
    void resetDropsWorkInProgress() throws Exception {
        try (EduEmulator edu = EduEmulator.start(dir.resolve("slow.sock"), Duration.ofMillis(200));
                TestClient c = TestClient.open(edu.socket(), null)) {
            c.write(0, 0x08, 4, 5);
            assertThat(c.errnoOf(vfio.user.protocol.Command.DEVICE_RESET, null)).isZero();
            Thread.sleep(400);
            assertThat(c.read(0, 0x08, 4)).as("the old computation did not land").isZero();
            assertThat(c.read(0, 0x20, 4)).isZero();
        }
    }
}
