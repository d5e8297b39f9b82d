package vfio.user.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import vfio.posix.Errno;
import vfio.user.protocol.Capabilities;
import vfio.user.server.testing.TestClient;

class TwinSocketTest extends ServerFixture {
    static final String TWIN = "{\"capabilities\":{\"max_msg_fds\":4,\"twin_socket\":{\"supported\":true}}}";

    @Override
    ServerOptions options() {
        return ServerOptions.defaults().withDmaTimeoutMs(1000);
    }

    @Test
    void aClientThatOffersATwinSocketGetsOneForTheServersDma() throws Exception {
        int before = TestDevice.openFds();
        try (TestClient c = TestClient.open(socket, TWIN)) {
            Capabilities caps = c.capabilities();
            assertThat(caps.twinSocket()).contains(new Capabilities.TwinSocket(true, 0));
            assertThat(c.hasTwinSocket()).isTrue();
            c.write(7, 4, 2, 0x4);
            assertThat(c.dmaMap(DmaTest.RW, 0, c.memoryBase, c.memory.length)).isZero();
            c.memory[8] = 88;
            // from the server thread, inside a register write
            c.write(0, 0x108, 8, c.memoryBase + 8);
            c.write(0, 0x100, 4, 1);
            assertThat(c.read(0, 0x118, 8)).isZero();
            assertThat(test.buffer[0]).isEqualTo((byte) 88);
            // from a device thread, while the client is idle on the main socket
            CompletableFuture<Void> write = CompletableFuture.runAsync(() -> {
                try {
                    test.device.dma().write(c.memoryBase + 0x40, ByteBuffer.wrap(new byte[] {1, 2, 3}));
                } catch (DmaException e) {
                    throw new RuntimeException(e);
                }
            });
            write.get(5, TimeUnit.SECONDS);
            assertThat(c.memory[0x42]).isEqualTo((byte) 3);
            assertThat(c.dmaReadsServed.get()).isEqualTo(1);
            assertThat(c.dmaWritesServed.get()).isEqualTo(1);
            // an unanswered request times out, and the next exchange works
            c.ignoreDma = true;
            c.write(0, 0x100, 4, 1);
            assertThat(c.read(0, 0x118, 8)).isEqualTo(Errno.ETIMEDOUT);
            c.ignoreDma = false;
            c.write(0, 0x100, 4, 1);
            assertThat(c.read(0, 0x118, 8)).isZero();
        }
        awaitServerIdle();
        assertThat(TestDevice.openFds()).isEqualTo(before);
    }

    @Test
    void aServerConfiguredWithoutTwinSocketsDeclines() throws Exception {
        server.close();
        try (VfioUserServer s = VfioUserServer.start(test.device, socket, options().withTwinSocket(false));
                TestClient c = TestClient.open(socket, TWIN)) {
            assertThat(c.capabilities().twinSocket()).isEmpty();
            assertThat(c.hasTwinSocket()).isFalse();
        }
    }
}
