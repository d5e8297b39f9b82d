package vfio.emulator.edu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import vfio.api.device.Pci;
import vfio.posix.EventFd;
import vfio.user.server.testing.TestClient;

/**
 * The emulator in a child JVM ({@link Main}), a client here: traffic, SIGKILL of the server
 * mid-traffic, restart on the same socket path, reconnect.
 */
class TwoProcessTest {
    private static final long[] FACTORIALS = {1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800, 479001600};

    @TempDir
    Path dir;
    private Process child;
    private EduProcess emulator;

    @AfterEach
    void killChild() throws Exception {
        if (child != null && child.isAlive()) {
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Process startEmulator(Path socket) throws Exception {
        emulator = EduProcess.start(socket, Duration.ofSeconds(60));
        return emulator.process();
    }

    private static void checkFactorial(TestClient c, int n) throws Exception {
        c.write(0, 0x08, 4, n);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while ((c.read(0, 0x20, 4) & 1) != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("factorial of " + n + " did not finish");
            }
        }
        long result = c.read(0, 0x08, 4);
        if (result != FACTORIALS[n]) {
            throw new AssertionError(n + "! read as " + result);
        }
    }

    @Test
    void aKilledServerIsRestartedAndTheClientReconnects() throws Exception {
        Path socket = dir.resolve("edu.sock");
        child = startEmulator(socket);
        AtomicInteger done = new AtomicInteger();
        CompletableFuture<Throwable> traffic = CompletableFuture.supplyAsync(() -> {
            try (TestClient c = TestClient.open(socket, null)) {
                for (int i = 0; ; i++) {
                    checkFactorial(c, i % FACTORIALS.length);
                    done.incrementAndGet();
                }
            } catch (Throwable t) {
                return t;
            }
        });
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (done.get() < 200 && !traffic.isDone() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(traffic).as("traffic before the kill; child said: " + emulator.output()).isNotDone();
        child.destroyForcibly();
        assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
        Throwable ended = traffic.get(10, TimeUnit.SECONDS);
        assertThat(ended).as("the client sees the connection fail, it does not hang").isInstanceOf(IOException.class);
        assertThat(done.get()).isGreaterThanOrEqualTo(200);
        assertThat(Files.exists(socket)).as("SIGKILL leaves the socket file").isTrue();

        child = startEmulator(socket);
        try (TestClient c = TestClient.open(socket, "{\"capabilities\":{\"max_msg_fds\":4}}");
                EventFd msi = EventFd.create()) {
            c.write(7, 4, 2, 0x6);
            assertThat(c.setIrqs(vfio.user.protocol.SetIrqs.DATA_EVENTFD | vfio.user.protocol.SetIrqs.ACTION_TRIGGER,
                    Pci.IRQ_MSI, 0, 1, msi.fd().value())).isZero();
            c.write(0, 0x20, 4, 0x80);
            c.write(0, 0x08, 4, 12);
            assertThat(EduEmulatorTest.awaitSignal(c, msi)).isEqualTo(1);
            assertThat(c.read(0, 0x08, 4)).isEqualTo(479001600L);
            // DMA across the process boundary, by message
            assertThat(c.dmaMap(EduEmulatorTest.RW, 0, c.memoryBase, c.memory.length)).isZero();
            c.memory[1] = 11;
            EduEmulatorTest.dma(c, c.memoryBase, 0x40000, 2, 1);
            EduEmulatorTest.awaitClear(c, 0x98, 8, 1);
            EduEmulatorTest.dma(c, 0x40000, c.memoryBase + 0x80, 2, 3);
            EduEmulatorTest.awaitClear(c, 0x98, 8, 1);
            assertThat(c.memory[0x81]).isEqualTo((byte) 11);
        }
        child.destroy(); // SIGTERM: the shutdown hook closes the server
        assertThat(child.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(Files.exists(socket)).as("a clean stop removes the socket").isFalse();
    }
}
