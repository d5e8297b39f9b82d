package vfio.backend.user.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
import vfio.emulator.edu.Main;

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
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "--latency-ms=1", "--socket-path=" + socket)
                .redirectErrorStream(true).start();
        StringBuffer output = new StringBuffer();
        CompletableFuture<Void> listening = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    output.append(line).append('\n');
                    if (line.startsWith("listening on ")) {
                        listening.complete(null);
                    }
                }
            } catch (IOException e) {
                // the child died
            }
            listening.completeExceptionally(new IOException("the emulator exited: " + output));
        }, "emulator-output");
        reader.setDaemon(true);
        reader.start();
        listening.get(60, TimeUnit.SECONDS);
        return p;
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
