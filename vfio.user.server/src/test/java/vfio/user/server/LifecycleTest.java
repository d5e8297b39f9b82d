package vfio.user.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import vfio.api.device.Pci;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.EventFd;
import vfio.posix.Fd;
import vfio.posix.MemFd;
import vfio.posix.MemFdSeals;
import vfio.user.protocol.Capabilities;
import vfio.user.server.testing.TestClient;

class LifecycleTest extends ServerFixture {
    @Test
    void aDisconnectResetsTheDeviceAndReleasesEverythingTheClientGave() throws Exception {
        int before = TestDevice.openFds();
        try (TestClient c = client(); EventFd ev = EventFd.create(); Fd sealed = MemFdSeals.createSealed("g", 8192);
                Fd plain = MemFd.create("p", 4096)) {
            c.write(7, 4, 2, 0x4);
            c.write(0, 0x40, 4, 5);
            assertThat(c.setIrqs(InterruptsTest.EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, ev.fd().value())).isZero();
            assertThat(c.dmaMap(DmaTest.RW, 0, 0x1000_0000, 8192, sealed.value())).isZero();
            assertThat(c.dmaMap(DmaTest.RW, 0, 0x2000_0000, 4096, plain.value())).isZero();
            assertThat(c.dmaMap(DmaTest.RW, 0, 0x3000_0000, 4096)).isZero();
            List<Fd> regionFds = new ArrayList<>();
            c.regionInfo(2, 32, regionFds);
            regionFds.forEach(Fd::close);
            assertThat(test.device.interrupts().activeIndex()).isEqualTo(Pci.IRQ_MSI);
        }
        awaitServerIdle();
        assertThat(test.resets.get()).isEqualTo(1);
        assertThat(test.device.interrupts().activeIndex()).isEqualTo(-1);
        assertThat(test.device.dma().isMapped(0x1000_0000, 1, false)).isFalse();
        assertThat(test.device.busMasterEnabled()).isFalse();
        assertThat(TestDevice.openFds()).as("descriptors after the session").isEqualTo(before);

        try (TestClient second = client()) {
            assertThat(second.read(0, 0x40, 4)).as("device state was reset").isZero();
            assertThat(second.dmaMap(DmaTest.RW, 0, 0x1000_0000, 8192)).as("old mappings are gone").isZero();
        }
        assertThat(server.clientsAccepted()).isEqualTo(2);
    }

    @Test
    void aSecondClientWaitsUntilTheFirstLeaves() throws Exception {
        TestClient first = client();
        CompletableFuture<Capabilities> second = CompletableFuture.supplyAsync(() -> {
            try (TestClient c = TestClient.connect(socket)) {
                Capabilities caps = c.negotiate(CLIENT_CAPS);
                c.read(7, 0, 2);
                return caps;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(200);
        assertThat(second).isNotDone();
        assertThat(first.read(7, 0, 2)).isEqualTo(0x1af4);
        first.close();
        assertThat(second.get(5, TimeUnit.SECONDS).maxMsgFds()).isEqualTo(8);
    }

    @Test
    void closingTheServerDisconnectsTheClientAndRemovesTheSocket() throws Exception {
        try (TestClient c = client()) {
            c.write(0, 0x40, 4, 5);
            server.close();
            HandshakeTest.assertClosed(c);
        }
        assertThat(Files.exists(socket)).isFalse();
        assertThat(test.resets.get()).isEqualTo(1);
        // the device can be served again
        try (VfioUserServer again = VfioUserServer.start(test.device, socket); TestClient c = client()) {
            assertThat(c.read(7, 0, 2)).isEqualTo(0x1af4);
            assertThat(again.isClientConnected()).isTrue();
        }
    }

    @Test
    void aDeviceIsServedByOneServerAtATime() {
        assertThatThrownBy(() -> VfioUserServer.start(test.device, dir.resolve("other.sock")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("already served");
        assertThat(Files.exists(dir.resolve("other.sock"))).isFalse();
    }

    @Test
    void aServedDeviceCannotBeClosed() {
        assertThatThrownBy(() -> test.device.close()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("close its VfioUserServer first");
    }

    @Test
    void theSocketIsOwnerOnly() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
    }

    @Test
    void aStaleSocketIsReplacedButALiveOneAndOtherFilesAreNot() throws Exception {
        Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(stale)); // closing leaves the file, like a killed server
        }
        assertThat(Files.exists(stale)).isTrue();
        try (TestDevice other = new TestDevice().autoClose(); VfioUserServer s = VfioUserServer.start(other.device, stale);
                TestClient c = TestClient.open(stale, null)) {
            assertThat(c.read(7, 0, 2)).isEqualTo(0x1af4);
        }
        try (TestDevice other = new TestDevice().autoClose()) {
            assertThatThrownBy(() -> VfioUserServer.start(other.device, socket))
                    .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EADDRINUSE));
            Path file = dir.resolve("plain-file");
            Files.writeString(file, "keep me");
            assertThatThrownBy(() -> VfioUserServer.start(other.device, file)).isInstanceOf(ErrnoException.class);
            assertThat(Files.readString(file)).isEqualTo("keep me");
        }
        assertThat(server.clientsAccepted()).as("the probe of a live socket counts as a client").isLessThanOrEqualTo(1);
    }

    @Test
    void failingDeviceCallbacksGetEioAndTheServerGoesOn() throws Exception {
        RegionHandler broken = new RegionHandler() {
            @Override
            public long read(long offset, int size) {
                throw new IllegalStateException("device fault");
            }

            @Override
            public void write(long offset, int size, long value) {
                throw new IllegalStateException("device fault");
            }
        };
        try (PciDevice d = PciDevice.builder().vendorId(1).deviceId(2).bar(0, Bar.mmio(64, broken))
                .onReset(() -> {
                    throw new IllegalStateException("reset fault");
                }).build();
                VfioUserServer s = VfioUserServer.start(d, dir.resolve("broken.sock"))) {
            try (TestClient c = TestClient.open(dir.resolve("broken.sock"), null)) {
                assertThat(c.errnoOf(vfio.user.protocol.Command.REGION_READ, DeviceCommandsTest.access(0, 0, 4)))
                        .isEqualTo(Errno.EIO);
                assertThat(c.errnoOf(vfio.user.protocol.Command.DEVICE_RESET, null)).isZero();
                assertThat(c.read(7, 0, 2)).isEqualTo(1);
            }
        }
    }
}
