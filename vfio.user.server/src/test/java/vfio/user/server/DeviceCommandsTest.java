package vfio.user.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import vfio.api.backend.VfioStructs;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.Errno;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.user.protocol.Command;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.protocol.RegionAccess;
import vfio.user.server.testing.TestClient;

class DeviceCommandsTest extends ServerFixture {
    @Test
    void deviceInfoDescribesAResettablePciDevice() throws Exception {
        try (TestClient c = client(); Message reply = c.call(Command.DEVICE_GET_INFO, info16(16))) {
            TestClient.check(reply);
            DeviceInfo info = VfioStructs.decodeDeviceInfo(reply.body(), "test");
            assertThat(info).isEqualTo(new DeviceInfo(DeviceInfo.FLAG_PCI | DeviceInfo.FLAG_RESET, 9, 5));
        }
    }

    @Test
    void infoRequestsWithShortBodiesOrArgszAreRefused() throws Exception {
        try (TestClient c = client()) {
            assertThat(c.errnoOf(Command.DEVICE_GET_INFO, TestClient.le(8).putInt(16).putInt(0).flip()))
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_GET_INFO, info16(8))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_GET_IRQ_INFO, info16(16, 0, 5))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_GET_IRQ_INFO, info16(16, 0, -1))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_GET_REGION_INFO, TestClient.le(32).putInt(32).putInt(0).putInt(9)
                    .position(32).flip())).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_GET_REGION_INFO, TestClient.le(32).putInt(16).position(32).flip()))
                    .isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void irqInfoReportsEachIndex() throws Exception {
        try (TestClient c = client()) {
            int[] counts = {1, 4, 4, 0, 0};
            for (int i = 0; i < 5; i++) {
                try (Message reply = c.call(Command.DEVICE_GET_IRQ_INFO, info16(16, 0, i))) {
                    TestClient.check(reply);
                    IrqInfo info = VfioStructs.decodeIrqInfo(reply.body(), i, "test");
                    assertThat(info.count()).isEqualTo(counts[i]);
                    if (counts[i] > 0) {
                        assertThat(info.has(IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE)).isTrue();
                    }
                    assertThat(info.has(IrqInfo.FLAG_AUTOMASKED)).isEqualTo(i == Pci.IRQ_INTX);
                }
            }
        }
    }

    @Test
    void regionInfoOfConfigSpaceAndUnusedRegions() throws Exception {
        try (TestClient c = client()) {
            List<Fd> fds = new ArrayList<>();
            RegionInfo config = VfioStructs.decodeRegionInfo(c.regionInfo(7, 32, fds), 7, "t");
            assertThat(config.size()).isEqualTo(256);
            assertThat(config.flags()).isEqualTo(RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE);
            for (int i : new int[] {1, 3, 5, 6, 8}) {
                assertThat(VfioStructs.decodeRegionInfo(c.regionInfo(i, 32, fds), i, "t").size()).as("region " + i).isZero();
            }
            RegionInfo bar0 = VfioStructs.decodeRegionInfo(c.regionInfo(0, 32, fds), 0, "t");
            assertThat(bar0.size()).isEqualTo(4096);
            assertThat(bar0.has(RegionInfo.FLAG_MMAP)).isFalse();
            assertThat(fds).isEmpty();
        }
    }

    @Test
    void aMappableBarComesWithItsMemfdSharedWithTheDevice() throws Exception {
        try (TestClient c = client()) {
            List<Fd> fds = new ArrayList<>();
            RegionInfo bar2 = VfioStructs.decodeRegionInfo(c.regionInfo(2, 32, fds), 2, "t");
            assertThat(bar2.has(RegionInfo.FLAG_MMAP)).isTrue();
            assertThat(bar2.capabilities()).isEmpty();
            assertThat(fds).hasSize(1);
            MappedMemory mem = MappedMemory.map(fds.get(0), bar2.offset(), bar2.size(), true);
            try {
                mem.view().putInt(0x40, 0xcafe);
                assertThat(test.device.sharedMemory(2).getInt(0x40)).isEqualTo(0xcafe);
                test.device.sharedMemory(2).putLong(0x100, 0x1122334455667788L);
                assertThat(mem.view().getLong(0x100)).isEqualTo(0x1122334455667788L);
                // REGION_READ/WRITE reach the same memory
                assertThat(c.read(2, 0x100, 8)).isEqualTo(0x1122334455667788L);
                c.write(2, 0x200, 4, 0xabcdef01L);
                assertThat(mem.view().getInt(0x200)).isEqualTo(0xabcdef01);
            } finally {
                mem.unmap();
                fds.forEach(Fd::close);
            }
        }
    }

    @Test
    void aSparseBarNeedsTheSecondStepForItsAreasAndItsFd() throws Exception {
        try (TestClient c = client()) {
            List<Fd> fds = new ArrayList<>();
            ByteBuffer shortReply = c.regionInfo(4, 32, fds);
            int needed = VfioStructs.regionInfoArgsz(shortReply, "t");
            assertThat(needed).isGreaterThan(32);
            assertThat(shortReply.remaining()).isEqualTo(32);
            RegionInfo partial = VfioStructs.decodeRegionInfo(shortReply, 4, "t");
            assertThat(partial.capabilities()).isEmpty();
            assertThat(partial.size()).isEqualTo(16384);
            assertThat(fds).as("no fd before the capability chain is complete").isEmpty();

            RegionInfo full = VfioStructs.decodeRegionInfo(c.regionInfo(4, needed, fds), 4, "t");
            assertThat(full.sparseAreas()).contains(List.of(new SparseArea(4096, 4096), new SparseArea(12288, 4096)));
            assertThat(fds).hasSize(1);
            MappedMemory area = MappedMemory.map(fds.get(0), full.offset() + 4096, 4096, true);
            try {
                area.view().putInt(8, 77);
                assertThat(test.device.sharedMemory(4).getInt(4096 + 8)).isEqualTo(77);
                // inside an area: memory; outside: the trap handler
                assertThat(c.read(4, 4096 + 8, 4)).isEqualTo(77);
                assertThat(test.trapped).isEmpty();
                assertThat(c.read(4, 0x10, 4)).isEqualTo(0x5a5a5a5aL);
                c.write(4, 0x2000, 8, 42);
                assertThat(test.trapped).containsExactly(new TestDevice.Access(0x10, 4, false, 0),
                        new TestDevice.Access(0x2000, 8, true, 42));
                // an access straddling the end of a trapped page: split between handler and memory
                test.trapped.clear();
                byte[] straddle = c.regionRead(4, 4096 - 4, 8);
                assertThat(test.trapped).containsExactly(new TestDevice.Access(4092, 4, false, 0));
                assertThat(ByteBuffer.wrap(straddle).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(4)).isZero();
            } finally {
                area.unmap();
                fds.forEach(Fd::close);
            }
        }
    }

    @Test
    void regionIoFdsAreNotOffered() throws Exception {
        try (TestClient c = client(); Message reply = c.call(Command.DEVICE_GET_REGION_IO_FDS, info16(16, 0, 0))) {
            TestClient.check(reply);
            ByteBuffer b = reply.body();
            assertThat(b.remaining()).isEqualTo(16);
            assertThat(b.getInt(12)).as("count").isZero();
            assertThat(reply.fdCount()).isZero();
            assertThat(c.errnoOf(Command.DEVICE_GET_REGION_IO_FDS, info16(16, 1, 0))).isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void configSpaceHasTheIdentityAndTheCapabilityList() throws Exception {
        try (TestClient c = client()) {
            assertThat(c.read(7, 0, 4)).isEqualTo(0x10ff1af4L);
            assertThat(c.read(7, 0x08, 4)).isEqualTo(0xff000003L);
            assertThat(c.read(7, 0x2c, 4)).isEqualTo(0x11001af4L);
            assertThat(c.read(7, 0x3d, 1)).as("interrupt pin").isEqualTo(1);
            assertThat(c.read(7, 0x06, 2) & 0x10).as("capability list bit").isEqualTo(0x10);
            int at = (int) c.read(7, 0x34, 1);
            List<Integer> ids = new ArrayList<>();
            while (at != 0 && ids.size() < 10) {
                ids.add((int) c.read(7, at, 1));
                at = (int) c.read(7, at + 1, 1);
            }
            assertThat(ids).containsExactly(0x05, 0x11, 0x09);
            int msi = (int) c.read(7, 0x34, 1);
            assertThat(c.read(7, msi + 2, 2)).as("MSI: 64-bit, 4 vectors capable").isEqualTo(0x80 | 2 << 1);
            int msix = (int) c.read(7, msi + 1, 1);
            assertThat(c.read(7, msix + 2, 2)).as("MSI-X table size").isEqualTo(3);
            assertThat(c.read(7, msix + 4, 4)).as("table offset | BIR").isEqualTo(0x800);
            assertThat(c.read(7, msix + 8, 4)).as("PBA offset | BIR").isEqualTo(0xc00);
        }
    }

    @Test
    void onlyWritableConfigBitsChange() throws Exception {
        try (TestClient c = client()) {
            c.write(7, 0, 4, 0xffffffffL);
            assertThat(c.read(7, 0, 4)).as("ids are read-only").isEqualTo(0x10ff1af4L);
            c.write(7, 4, 2, 0xffff);
            assertThat(c.read(7, 4, 2)).isEqualTo(0x0547);
            assertThat(test.device.busMasterEnabled()).isTrue();
            c.write(7, 4, 2, 0);
            assertThat(test.device.busMasterEnabled()).isFalse();
            int msi = (int) c.read(7, 0x34, 1);
            c.write(7, msi + 2, 2, 0xffff);
            assertThat(c.read(7, msi + 2, 2)).isEqualTo(0xf5);
        }
    }

    @Test
    void barsReportTheirSizeWhenAllOnesAreWritten() throws Exception {
        try (TestClient c = client()) {
            assertThat(c.read(7, 0x10, 4)).as("BAR0 type: 32-bit memory").isZero();
            c.write(7, 0x10, 4, 0xffffffffL);
            assertThat(c.read(7, 0x10, 4)).isEqualTo(0xfffff000L);
            c.write(7, 0x10, 4, 0xfebf0000L);
            assertThat(c.read(7, 0x10, 4)).isEqualTo(0xfebf0000L);
            // BAR4: 64-bit prefetchable, 16 KiB
            assertThat(c.read(7, 0x20, 4)).isEqualTo(0xcL);
            c.write(7, 0x20, 4, 0xffffffffL);
            c.write(7, 0x24, 4, 0xffffffffL);
            assertThat(c.read(7, 0x20, 4)).isEqualTo(0xffffc00cL);
            assertThat(c.read(7, 0x24, 4)).isEqualTo(0xffffffffL);
            // unimplemented BAR1 and the ROM BAR stay 0
            c.write(7, 0x14, 4, 0xffffffffL);
            c.write(7, 0x30, 4, 0xffffffffL);
            assertThat(c.read(7, 0x14, 4)).isZero();
            assertThat(c.read(7, 0x30, 4)).isZero();
        }
    }

    @Test
    void callbackBarAccessesAreSplitIntoNaturallyAlignedPieces() throws Exception {
        try (TestClient c = client()) {
            c.write(0, 0x10, 8, 0x0807060504030201L);
            assertThat(c.read(0, 0x10, 8)).isEqualTo(0x0807060504030201L);
            test.accesses.clear();
            c.regionRead(0, 0x11, 7);
            assertThat(test.accesses).extracting(TestDevice.Access::offset, TestDevice.Access::size).containsExactly(
                    org.assertj.core.groups.Tuple.tuple(0x11L, 1), org.assertj.core.groups.Tuple.tuple(0x12L, 2),
                    org.assertj.core.groups.Tuple.tuple(0x14L, 4));
            test.accesses.clear();
            c.regionRead(0, 0x20, 24);
            assertThat(test.accesses).extracting(TestDevice.Access::size).containsExactly(8, 8, 8);
        }
    }

    @Test
    void regionAccessesOutsideTheRegionOrTooLargeAreRefused() throws Exception {
        try (TestClient c = client()) {
            assertThat(c.errnoOf(Command.REGION_READ, access(0, 4093, 4))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.REGION_READ, access(1, 0, 4))).as("no BAR1").isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.REGION_READ, access(7, 255, 2))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.REGION_READ, access(9, 0, 4))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.REGION_READ, access(0, Long.MAX_VALUE, 4))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.REGION_READ, access(0, -8, 4))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.REGION_READ, access(2, 0, (1 << 20) + 1))).as("over max_data_xfer_size")
                    .isEqualTo(Errno.EINVAL);
            ByteBuffer shortWrite = TestClient.regionWriteBody(0, 0, new byte[4]);
            shortWrite.putInt(12, 8);
            assertThat(c.errnoOf(Command.REGION_WRITE, shortWrite)).as("count beyond the data").isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.REGION_READ, TestClient.le(8).putLong(0).flip())).as("truncated payload")
                    .isEqualTo(Errno.EINVAL);
            // the session is still fine
            assertThat(c.read(7, 0, 2)).isEqualTo(0x1af4);
        }
    }

    @Test
    void aZeroByteReadSucceeds() throws Exception {
        try (TestClient c = client(); Message reply = c.call(Command.REGION_READ, access(0, 0, 0))) {
            TestClient.check(reply);
            assertThat(RegionAccess.decode(reply.body(), 0, "t").count()).isZero();
        }
    }

    @Test
    void postedWritesGetNoReplyAndStayInOrder() throws Exception {
        try (TestClient c = client()) {
            for (int i = 0; i < 10; i++) {
                c.send(Command.REGION_WRITE, TestClient.regionWriteBody(0, 0x40, new byte[] {(byte) i, 0, 0, 0}), true);
            }
            // a failing posted write is dropped silently too
            c.send(Command.REGION_WRITE, TestClient.regionWriteBody(0, 8192, new byte[4]), true);
            assertThat(c.read(0, 0x40, 4)).isEqualTo(9);
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        try (TestClient c = client()) {
            int[] ids = new int[20];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = c.send(Command.REGION_READ, access(7, 0, 2), false);
            }
            for (int id : ids) {
                try (Message m = c.receive()) {
                    assertThat(m.header().id()).isEqualTo(id);
                    assertThat(m.header().isError()).isFalse();
                }
            }
        }
    }

    @Test
    void writeMultipleAppliesEachWrite() throws Exception {
        try (TestClient c = TestClient.open(socket, "{\"capabilities\":{\"write_multiple\":true}}")) {
            ByteBuffer b = TestClient.le(8 + 2 * 24).putLong(2);
            new RegionAccess(0x50, 0, 4).encode(b);
            b.putLong(0x11);
            new RegionAccess(0x58, 0, 8).encode(b);
            b.putLong(0x2222);
            try (Message reply = c.call(Command.REGION_WRITE_MULTI, b.flip())) {
                TestClient.check(reply);
                assertThat(reply.body().getLong()).isEqualTo(2);
            }
            assertThat(c.read(0, 0x50, 4)).isEqualTo(0x11);
            assertThat(c.read(0, 0x58, 8)).isEqualTo(0x2222);
        }
        awaitServerIdle();
        try (TestClient c = client()) {
            ByteBuffer b = TestClient.le(8).putLong(0).flip();
            assertThat(c.errnoOf(Command.REGION_WRITE_MULTI, b)).as("not negotiated").isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void unknownAndWrongDirectionCommandsAreRefused() throws Exception {
        try (TestClient c = client()) {
            c.channel().send(new Header(77, 14, 16, Header.TYPE_COMMAND, 0), null, new int[0]);
            try (Message reply = c.receive()) {
                assertThat(reply.header().id()).isEqualTo(77);
                assertThat(reply.header().error()).isEqualTo(Errno.ENOSYS);
            }
            c.channel().send(new Header(78, 999, 16, Header.TYPE_COMMAND, 0), null, new int[0]);
            try (Message reply = c.receive()) {
                assertThat(reply.header().error()).isEqualTo(Errno.ENOSYS);
            }
            assertThat(c.errnoOf(Command.DMA_READ, TestClient.le(16).putLong(0).putLong(4).flip())).isEqualTo(Errno.EINVAL);
            assertThat(c.read(7, 0, 2)).isEqualTo(0x1af4);
        }
    }

    @Test
    void resetRestoresConfigSpaceAndCallsTheDevice() throws Exception {
        try (TestClient c = client()) {
            c.write(7, 4, 2, 0x4);
            c.write(7, 0x10, 4, 0xffffffffL);
            c.write(0, 0x40, 4, 99);
            assertThat(c.errnoOf(Command.DEVICE_RESET, null)).isZero();
            assertThat(test.resets.get()).isEqualTo(1);
            assertThat(c.read(7, 4, 2)).isZero();
            assertThat(c.read(7, 0x10, 4)).isZero();
            assertThat(c.read(0, 0x40, 4)).isZero();
        }
    }

    static ByteBuffer info16(int argsz) {
        return info16(argsz, 0, 0);
    }

    static ByteBuffer info16(int argsz, int flags, int index) {
        return TestClient.le(16).putInt(argsz).putInt(flags).putInt(index).putInt(0).flip();
    }

    static ByteBuffer access(int region, long offset, int count) {
        ByteBuffer b = TestClient.le(RegionAccess.SIZE);
        b.putLong(offset).putInt(region).putInt(count);
        return b.flip();
    }
}
