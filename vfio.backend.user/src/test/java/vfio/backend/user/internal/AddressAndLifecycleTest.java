package vfio.backend.user.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceUnavailableException;
import vfio.backend.user.internal.device.VfioUserDevice;
import vfio.posix.UnixServerSocket;

/** Addresses, matching, connecting (with retry), failure and reconnection, and descriptor hygiene. */
@Timeout(60)
class AddressAndLifecycleTest {
    @TempDir
    Path dir;

    private final VfioUserBackendFactory factory = Fixture.factory();

    @Test
    void addressesOfOtherSchemesAreNotMatched() {
        Match m = factory.match("pci:0000:00:03.0");
        assertThat(m.matches()).isFalse();
        assertThat(m.reason()).contains("vfio-user:/path/to/server.sock");
    }

    @Test
    void malformedPathsAreRefusedWithTheReason() {
        assertThat(factory.match("vfio-user:relative.sock").reason()).contains("not absolute");
        assertThat(factory.match("vfio-user:").reason()).contains("not absolute");
        assertThat(factory.match("vfio-user:/run/../etc/passwd").reason()).contains("'..'");
        assertThat(factory.match("vfio-user:/run/./x.sock").reason()).contains("'.'");
        assertThat(factory.match("vfio-user:/run//x.sock").reason()).contains("empty");
        assertThat(factory.match("vfio-user:/run/dir/").reason()).contains("names a directory");
        assertThat(factory.match("vfio-user:/x\0y").reason()).contains("NUL");
        assertThat(factory.match("vfio-user:/" + "a".repeat(120)).reason()).contains("longer than 107 bytes");
    }

    @Test
    void onlySocketsMatch() throws Exception {
        Path file = Files.writeString(dir.resolve("file"), "x");
        assertThat(factory.match("vfio-user:" + file).reason()).contains("is not a socket");
        assertThat(factory.match("vfio-user:" + dir).reason()).contains("is not a socket");
        assertThat(factory.match("vfio-user:" + dir.resolve("missing.sock")).reason()).contains("does not exist");
        try (UnixServerSocket s = UnixServerSocket.listen(dir.resolve("ok.sock"), 1)) {
            Match m = factory.match("vfio-user:" + s.path());
            assertThat(m.score()).isEqualTo(Match.DEFAULT_SCORE);
            assertThat(m.reason()).contains(s.path().toString());
        }
    }

    @Test
    void aSymbolicLinkToASocketMatchesWithItsRealPathAndOneToAFileDoesNot() throws Exception {
        Path file = Files.writeString(dir.resolve("secret"), "x");
        Path toFile = Files.createSymbolicLink(dir.resolve("evil.sock"), file);
        assertThat(factory.match("vfio-user:" + toFile).reason()).contains("is not a socket").contains(file.toString());
        try (UnixServerSocket s = UnixServerSocket.listen(dir.resolve("real.sock"), 1)) {
            Path link = Files.createSymbolicLink(dir.resolve("link.sock"), s.path());
            assertThat(factory.match("vfio-user:" + link).reason()).contains(s.path().toRealPath().toString());
        }
    }

    @Test
    void configuredSocketDirectoriesConfineTheAddresses() throws Exception {
        Path allowed = Files.createDirectory(dir.resolve("allowed"));
        Path other = Files.createDirectory(dir.resolve("other"));
        VfioUserBackendFactory confined = new VfioUserBackendFactory(Duration.ofMillis(100), List.of(allowed), 1 << 20,
                true, false);
        try (UnixServerSocket in = UnixServerSocket.listen(allowed.resolve("in.sock"), 1);
                UnixServerSocket out = UnixServerSocket.listen(other.resolve("out.sock"), 1)) {
            assertThat(confined.match("vfio-user:" + in.path()).matches()).isTrue();
            assertThat(confined.match("vfio-user:" + out.path()).reason()).contains("outside the configured socket directories");
            // A link inside the allowed directory does not smuggle in a socket from elsewhere.
            Path link = Files.createSymbolicLink(allowed.resolve("link.sock"), out.path());
            assertThat(confined.match("vfio-user:" + link).reason()).contains("outside the configured socket directories");
            assertThatThrownBy(() -> confined.open(OpenRequest.of("d", "vfio-user:" + link)))
                    .isInstanceOf(DeviceException.class).hasMessageContaining("outside");
        }
    }

    @Test
    void aSocketWithoutWritePermissionIsRefused() throws Exception {
        assumeFalse("root".equals(System.getProperty("user.name")), "root may connect to any socket");
        try (UnixServerSocket s = UnixServerSocket.listen(dir.resolve("ro.sock"), 1)) {
            Files.setPosixFilePermissions(s.path(), PosixFilePermissions.fromString("r--------"));
            assertThat(factory.match("vfio-user:" + s.path()).reason()).contains("no permission");
        }
    }

    @Test
    void optionsAreRefusedByName() {
        assertThatThrownBy(() -> factory.open(new OpenRequest("d", "vfio-user:/x.sock", Duration.ofSeconds(1),
                Map.of("iommu", "group")))).isInstanceOf(DeviceException.class).hasMessageContaining("[iommu]")
                .hasMessageContaining("accepts no options");
    }

    @Test
    void openWaitsForASocketThatAppearsShortlyAfter() throws Exception {
        FakeDevice device = new FakeDevice();
        Path path = dir.resolve("late.sock");
        FakeServer[] server = new FakeServer[1];
        Thread starter = new Thread(() -> {
            try {
                Thread.sleep(300);
                server[0] = FakeServer.start(path, device);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        starter.start();
        VfioUserBackendFactory patient = new VfioUserBackendFactory(Duration.ofSeconds(5), List.of(), 1 << 20, true, false);
        try (VfioUserDevice d = (VfioUserDevice) patient.open(OpenRequest.of("late", "vfio-user:" + path))) {
            assertThat(d.deviceInfo().numRegions()).isEqualTo(9);
        } finally {
            starter.join();
            server[0].close();
            device.release();
        }
    }

    @Test
    void aStaleSocketIsRetriedUntilTheServerReplacesIt() throws Exception {
        Path path = dir.resolve("stale.sock");
        // A socket file nobody listens on any more: connecting to it is refused.
        java.nio.channels.ServerSocketChannel stale = java.nio.channels.ServerSocketChannel
                .open(java.net.StandardProtocolFamily.UNIX).bind(java.net.UnixDomainSocketAddress.of(path));
        stale.close();
        assertThat(Files.exists(path)).isTrue();
        FakeDevice device = new FakeDevice();
        FakeServer[] server = new FakeServer[1];
        Thread restarter = new Thread(() -> {
            try {
                Thread.sleep(300);
                Files.delete(path);
                server[0] = FakeServer.start(path, device);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        restarter.start();
        VfioUserBackendFactory patient = new VfioUserBackendFactory(Duration.ofSeconds(5), List.of(), 1 << 20, true, false);
        try (VfioUserDevice d = (VfioUserDevice) patient.open(OpenRequest.of("stale", "vfio-user:" + path))) {
            assertThat(d.deviceInfo().numIrqs()).isEqualTo(5);
        } finally {
            restarter.join();
            server[0].close();
            device.release();
        }
    }

    @Test
    void aSocketNobodyListensOnFailsAfterTheRetryTime() throws Exception {
        Path path = dir.resolve("dead.sock");
        java.nio.channels.ServerSocketChannel stale = java.nio.channels.ServerSocketChannel
                .open(java.net.StandardProtocolFamily.UNIX).bind(java.net.UnixDomainSocketAddress.of(path));
        stale.close();
        assertThatThrownBy(() -> factory.open(OpenRequest.of("dead", "vfio-user:" + path)))
                .isInstanceOf(DeviceException.class).hasMessageContaining("ECONNREFUSED")
                .hasMessageContaining("retried for 500 ms");
    }

    @Test
    void whenTheServerGoesAwayCallsFailAndTheDeviceCanBeOpenedAgainOnceItIsBack() throws Exception {
        FakeDevice device = new FakeDevice();
        Path path = dir.resolve("restart.sock");
        String address = "vfio-user:" + path;
        FakeServer server = FakeServer.start(path, device);
        VfioUserDevice d = Fixture.open(server);
        try {
            d.regionRead(1, 0, ByteBuffer.allocate(4));
            server.close(); // the server process goes away: its socket file too
            assertThatThrownBy(() -> d.regionRead(1, 0, ByteBuffer.allocate(4)))
                    .isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("closed the connection");
            assertThatThrownBy(() -> d.regionWrite(1, 0, ByteBuffer.allocate(4), false))
                    .isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("closed the connection");
            assertThat(factory.match(address).reason()).contains("does not exist");
        } finally {
            d.close();
        }
        server = FakeServer.start(path, device);
        try {
            assertThat(factory.match(address).matches()).isTrue();
            try (VfioUserDevice again = Fixture.open(server)) {
                again.regionRead(1, 0, ByteBuffer.allocate(4));
                assertThat(server.connections()).isEqualTo(1);
            }
        } finally {
            server.close();
            device.release();
        }
    }

    @Test
    void openUseAndCloseLeaveNoDescriptorBehind() throws Exception {
        FakeDevice device = new FakeDevice();
        try (FakeServer server = FakeServer.start(dir.resolve("fds.sock"), device)) {
            // Warm up the JVM's and JNA's own descriptors first.
            try (VfioUserDevice warm = Fixture.open(server)) {
                warm.regionInfo(0);
            }
            // The server closes its end of the warm-up connection on its own thread.
            for (int i = 0; i < 500 && server.peer() != null; i++) {
                Thread.sleep(10);
            }
            Map<String, Integer> before = Fixture.kinds();
            for (int round = 0; round < 3; round++) {
                try (VfioUserDevice d = Fixture.open(server); TestDmaMemory mem = TestDmaMemory.create(0x1000, true);
                        vfio.posix.EventFd e = vfio.posix.EventFd.create()) {
                    d.regionInfo(0); // keeps the region's descriptor until close
                    d.dmaMap(mem, 0x1000, true, true);
                    d.setIrqs(vfio.api.backend.IrqSet.enable(1, List.of(DeviceOperationsTest.signal(e))));
                    d.regionIoFds(0, FakeDevice.BAR0_SIZE);
                    d.regionRead(0, 0, ByteBuffer.allocate(64));
                }
                // The server drops what the client gave it once the client is gone.
                synchronized (device) {
                    device.dmaMaps.values().forEach(r -> {
                        if (r.fd() != null) {
                            r.fd().close();
                        }
                    });
                    device.dmaMaps.clear();
                    device.eventfds.values().forEach(vfio.posix.EventFd::close);
                    device.eventfds.clear();
                }
                assertThat(Fixture.awaitKinds(before)).isEqualTo(before);
            }
        } finally {
            device.release();
        }
    }

    @Test
    void closeIsIdempotentAndLaterCallsFailFast() throws Exception {
        FakeDevice device = new FakeDevice();
        try (FakeServer server = FakeServer.start(dir.resolve("close.sock"), device)) {
            VfioUserDevice d = Fixture.open(server);
            d.close();
            d.close();
            assertThatThrownBy(() -> d.regionRead(1, 0, ByteBuffer.allocate(4)))
                    .isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("closed by this client");
        } finally {
            device.release();
        }
    }
}
