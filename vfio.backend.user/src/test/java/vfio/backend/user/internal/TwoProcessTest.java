package vfio.backend.user.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceUnavailableException;
import vfio.backend.user.internal.device.VfioUserDevice;
import vfio.emulator.edu.EduProcess;

/**
 * The client against the edu emulation running in another process, which is killed (SIGKILL) in the
 * middle of traffic from several threads and started again on the same, now stale, socket.
 */
@Timeout(120)
class TwoProcessTest {
    @TempDir
    Path dir;
    private Process child;

    @AfterEach
    void killChild() throws Exception {
        if (child != null && child.isAlive()) {
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Process startEmulator(Path socket) throws Exception {
        return EduProcess.start(socket, Duration.ofSeconds(60)).process();
    }

    @Test
    void aServerKilledMidTrafficFailsEveryCallerPromptlyAndIsReachedAgainAfterItsRestart() throws Exception {
        Path socket = dir.resolve("edu.sock");
        String address = "vfio-user:" + socket;
        VfioUserBackendFactory factory = Fixture.factory();
        child = startEmulator(socket);
        VfioUserDevice ops = (VfioUserDevice) factory.open(new OpenRequest("edu", address, Duration.ofSeconds(5),
                Map.of()));
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        AtomicLong reads = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        try {
            for (int t = 0; t < 4; t++) {
                Thread th = new Thread(() -> {
                    ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
                    try {
                        while (true) {
                            b.clear();
                            ops.regionRead(0, 0, b);
                            if (b.getInt(0) != 0x010000ed) {
                                failures.add(new AssertionError("wrong id " + Integer.toHexString(b.getInt(0))));
                            }
                            reads.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                });
                threads.add(th);
                th.start();
            }
            while (reads.get() < 2000) {
                Thread.sleep(5);
            }
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            for (Thread th : threads) {
                th.join(10_000);
                assertThat(th.isAlive()).as("caller still blocked after the server died").isFalse();
            }
        } finally {
            ops.close();
        }
        assertThat(failures).hasSize(4).allSatisfy(e -> assertThat(e).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("closed the connection"));
        // The killed server left its socket file behind: present, but nobody listens.
        child = startEmulator(socket);
        assertThat(factory.match(address).matches()).isTrue();
        try (VfioUserDevice again = (VfioUserDevice) factory.open(OpenRequest.of("edu", address))) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            again.regionRead(0, 0, b);
            assertThat(b.getInt(0)).isEqualTo(0x010000ed);
            assertThat(again.twinSocket()).isTrue();
        }
    }
}
