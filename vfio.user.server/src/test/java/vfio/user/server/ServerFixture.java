package vfio.user.server;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import vfio.user.server.testing.TestClient;

/** Starts a {@link TestDevice} on a fresh socket for each test and closes everything after it. */
abstract class ServerFixture {
    static final String CLIENT_CAPS = "{ \"capabilities\": { \"max_msg_fds\": 8, \"max_data_xfer_size\": 1048576 } }";

    @TempDir
    Path dir;
    TestDevice test;
    VfioUserServer server;
    Path socket;

    ServerOptions options() {
        return ServerOptions.defaults();
    }

    @BeforeEach
    void startServer() throws Exception {
        test = new TestDevice();
        socket = TestDevice.socketIn(dir);
        server = VfioUserServer.start(test.device, socket, options());
    }

    @AfterEach
    void stopServer() {
        server.close();
        test.device.close();
    }

    TestClient client() throws Exception {
        return TestClient.open(socket, CLIENT_CAPS);
    }

    /** Waits until the server has finished with its client (cleanup done). */
    void awaitServerIdle() throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (server.isClientConnected() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        if (server.isClientConnected()) {
            throw new AssertionError("the server still serves a client after 5 s");
        }
    }
}
