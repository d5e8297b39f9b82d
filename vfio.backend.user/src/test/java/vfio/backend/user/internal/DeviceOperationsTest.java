package vfio.backend.user.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.backend.MappedArea;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.RegionInfo;
import vfio.backend.user.internal.device.VfioUserDevice;
import vfio.posix.EventFd;
import vfio.posix.MappedMemory;
import vfio.user.protocol.Command;
import vfio.user.protocol.Header;
import vfio.user.protocol.SetIrqs;

/** The client against a well-behaved fake device over a real socket: every operation of the SPI. */
class DeviceOperationsTest {
    @TempDir
    Path dir;
    private FakeDevice device;
    private FakeServer server;
    private VfioUserDevice ops;

    @BeforeEach
    void start() throws Exception {
        device = new FakeDevice();
        server = FakeServer.start(dir.resolve("dev.sock"), device);
        ops = Fixture.open(server);
    }

    @AfterEach
    void stop() {
        ops.close();
        server.close();
        device.release();
        assertThat(server.errors()).isEmpty();
    }

    @Test
    void negotiatesByProposingSixteenFdsAndOneMebibyteAndReadsTheDeviceInfo() {
        assertThat(device.proposedJson).contains("\"max_msg_fds\":16").contains("\"max_data_xfer_size\":1048576");
        assertThat(device.requests.get(0).commandOrNull()).isEqualTo(Command.VERSION);
        assertThat(ops.deviceInfo()).isEqualTo(new DeviceInfo(DeviceInfo.FLAG_PCI | DeviceInfo.FLAG_RESET, 9, 5));
        assertThat(ops.capabilities()).contains(BackendCapability.REGION_MAP, BackendCapability.POSTED_WRITES,
                BackendCapability.DMA, BackendCapability.IRQ_SIGNAL_FD, BackendCapability.DEVICE_FEATURE);
    }

    @Test
    void regionInfoAsksAgainWithTheLargerArgszAndDecodesTheSparseAreas() {
        RegionInfo info = ops.regionInfo(0);
        assertThat(info.index()).isEqualTo(0);
        assertThat(info.size()).isEqualTo(FakeDevice.BAR0_SIZE);
        assertThat(info.offset()).isEqualTo(FakeDevice.BAR0_FILE_OFFSET);
        assertThat(info.sparseAreas()).contains(FakeDevice.bar0Info().sparseAreas().orElseThrow());
        assertThat(device.requests.stream().filter(h -> h.commandOrNull() == Command.DEVICE_GET_REGION_INFO).count())
                .isEqualTo(2);
        // A region without capabilities needs one request.
        assertThat(ops.regionInfo(1)).isEqualTo(new RegionInfo(1, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE, 4096, 0));
        assertThat(device.requests.stream().filter(h -> h.commandOrNull() == Command.DEVICE_GET_REGION_INFO).count())
                .isEqualTo(3);
    }

    @Test
    void regionMapMapsEachAreaOfTheServersDescriptorAtItsFileOffset() throws Exception {
        RegionInfo info = ops.regionInfo(0);
        List<MappedArea> areas = ops.regionMap(info, info.sparseAreas().orElseThrow());
        assertThat(areas).extracting(MappedArea::offset).containsExactly(0L, 0x2000L);
        try {
            ByteBuffer first = MappedMemory.adopt(areas.get(0).address(), 0x1000).view();
            ByteBuffer second = MappedMemory.adopt(areas.get(1).address(), 0x2000).view();
            // Stores through the mapping reach the server's memory...
            first.putInt(0x10, 0xcafef00d);
            second.putInt(0x4, 0x12345678);
            assertThat(read32(0, 0x10)).isEqualTo(0xcafef00d);
            assertThat(read32(0, 0x2004)).isEqualTo(0x12345678);
            // ...and the server's writes show through the mapping.
            write32(0, 0x2008, 0x0badcafe);
            assertThat(second.getInt(0x8)).isEqualTo(0x0badcafe);
        } finally {
            long before = Fixture.openFds();
            ops.regionUnmap(0, areas);
            // regionUnmap closes the region descriptor but leaves the pages to the core.
            assertThat(Fixture.openFds()).isEqualTo(before - 1);
            for (MappedArea a : areas) {
                MappedMemory.adopt(a.address(), a.size()).unmap();
            }
        }
        // Mapping again fetches a fresh descriptor.
        List<MappedArea> again = ops.regionMap(info, info.sparseAreas().orElseThrow());
        assertThat(again).hasSize(2);
        ops.regionUnmap(0, again);
        for (MappedArea a : again) {
            MappedMemory.adopt(a.address(), a.size()).unmap();
        }
    }

    @Test
    void aRegionWithoutDescriptorMapsNothing() {
        RegionInfo info = ops.regionInfo(1);
        assertThat(ops.regionMap(info, List.of(new vfio.api.device.RegionCapability.SparseArea(0, 4096)))).isEmpty();
    }

    @Test
    void irqInfoIsDecoded() {
        assertThat(ops.irqInfo(0)).isEqualTo(
                new IrqInfo(0, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE | IrqInfo.FLAG_AUTOMASKED, 1));
        assertThat(ops.irqInfo(2).count()).isEqualTo(40);
    }

    @Test
    void eventfdsAreSplitToTheNegotiatedFdLimitWithRunsOfAllPresentOrAllAbsent() throws Exception {
        List<EventFd> events = new ArrayList<>();
        List<IrqSignal> signals = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) {
                if (i == 5 || i == 6) {
                    signals.add(null);
                    continue;
                }
                EventFd e = EventFd.create();
                events.add(e);
                signals.add(signal(e));
            }
            ops.setIrqs(IrqSet.enable(2, signals));
            // The server announced max_msg_fds 8.
            int flags = SetIrqs.DATA_EVENTFD | SetIrqs.ACTION_TRIGGER;
            assertThat(device.irqSets()).containsExactly(new FakeDevice.IrqSetRecord(flags, 2, 0, 5, 5),
                    new FakeDevice.IrqSetRecord(flags, 2, 5, 2, 0), new FakeDevice.IrqSetRecord(flags, 2, 7, 8, 8),
                    new FakeDevice.IrqSetRecord(flags, 2, 15, 5, 5));
            // The server signals vector 3 through the descriptor it received.
            assertThat(device.raise(2, 3)).isTrue();
            assertThat(events.get(3).drain()).isEqualTo(1);
            assertThat(device.raise(2, 5)).isFalse();
            ops.setIrqs(IrqSet.disable(2));
            assertThat(device.raise(2, 3)).isFalse();
        } finally {
            events.forEach(EventFd::close);
        }
    }

    @Test
    void vectorsOutsideTheIndexAreRefusedEvenIfTheServerWouldAcceptThem() throws Exception {
        try (EventFd e = EventFd.create()) {
            assertThatThrownBy(() -> ops.setIrqs(IrqSet.enable(0, List.of(signal(e), signal(e)))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside its 1 vector(s)");
            assertThatThrownBy(() -> ops.setIrqs(IrqSet.one(1, IrqSet.Action.TRIGGER, 32)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside its 32 vector(s)");
            assertThat(device.irqSets()).isEmpty();
            ops.setIrqs(IrqSet.disable(2)); // count 0: the whole index
            ops.setIrqs(IrqSet.one(1, IrqSet.Action.TRIGGER, 31));
            assertThat(device.irqSets()).hasSize(2);
        }
    }

    @Test
    void maskUnmaskAndSoftwareTriggerAreSentWithoutData() throws Exception {
        try (EventFd e = EventFd.create()) {
            ops.setIrqs(IrqSet.enable(0, List.of(signal(e))));
            ops.setIrqs(IrqSet.one(0, IrqSet.Action.MASK, 0));
            ops.setIrqs(IrqSet.one(0, IrqSet.Action.UNMASK, 0));
            ops.setIrqs(new IrqSet(0, IrqSet.Action.UNMASK, 0, 1, new IrqSet.Data.Bools(new boolean[] {true})));
            ops.setIrqs(IrqSet.one(0, IrqSet.Action.TRIGGER, 0));
            assertThat(e.drain()).isEqualTo(1);
            assertThat(device.irqSets()).extracting(FakeDevice.IrqSetRecord::flags).containsExactly(
                    SetIrqs.DATA_EVENTFD | SetIrqs.ACTION_TRIGGER, SetIrqs.DATA_NONE | SetIrqs.ACTION_MASK,
                    SetIrqs.DATA_NONE | SetIrqs.ACTION_UNMASK, SetIrqs.DATA_BOOL | SetIrqs.ACTION_UNMASK,
                    SetIrqs.DATA_NONE | SetIrqs.ACTION_TRIGGER);
        }
    }

    @Test
    void readsAndWritesGoThroughMessagesWithTheirWidth() {
        write32(1, 0x40, 0xdeadbeef);
        assertThat(read32(1, 0x40)).isEqualTo(0xdeadbeef);
        ByteBuffer one = ByteBuffer.allocate(1);
        ops.regionRead(1, 0x41, one);
        assertThat(one.flip().get()).isEqualTo((byte) 0xbe);
        assertThat(device.requests).filteredOn(h -> h.commandOrNull() == Command.REGION_READ)
                .extracting(Header::size).containsExactly(16 + 16, 16 + 16);
    }

    @Test
    void postedWritesAskForNoReplyAndStayOrderedBeforeTheNextRead() {
        ByteBuffer v = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 77);
        ops.regionWrite(1, 0x80, v, true);
        assertThat(v.hasRemaining()).isFalse();
        assertThat(read32(1, 0x80)).isEqualTo(77);
        assertThat(device.requests).filteredOn(h -> h.commandOrNull() == Command.REGION_WRITE)
                .allMatch(Header::noReply).hasSize(1);
    }

    @Test
    void bulkTransfersAreSplitAtMaxDataXferSize() throws Exception {
        ops.close();
        device.versionJson = "{\"capabilities\":{\"max_data_xfer_size\":4096}}";
        ops = Fixture.open(server);
        byte[] data = new byte[10000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7);
        }
        ops.regionWrite(0, 0x100, ByteBuffer.wrap(data), false);
        ByteBuffer back = ByteBuffer.allocate(data.length);
        ops.regionRead(0, 0x100, back);
        assertThat(back.array()).isEqualTo(data);
        assertThat(device.requests).filteredOn(h -> h.commandOrNull() == Command.REGION_READ).hasSize(3);
        assertThat(device.requests).filteredOn(h -> h.commandOrNull() == Command.REGION_WRITE)
                .extracting(Header::size).containsExactly(16 + 16 + 4096, 16 + 16 + 4096, 16 + 16 + 1808);
    }

    @Test
    void dmaMapSendsTheDescriptorAndOffsetAndUnmapRemovesTheMapping() throws Exception {
        try (TestDmaMemory mem = TestDmaMemory.create(0x2000, true)) {
            assertThat(ops.dmaMap(mem, 0x100000, true, true)).isEqualTo(0x100000);
            FakeDevice.DmaRecord rec;
            synchronized (device) {
                rec = device.dmaMaps.get(0x100000L);
            }
            assertThat(rec.map().size()).isEqualTo(0x2000);
            assertThat(rec.map().flags()).isEqualTo(3);
            assertThat(rec.fd()).isNotNull();
            // The descriptor the server got is the memory itself.
            MappedMemory serverView = MappedMemory.map(rec.fd(), rec.map().offset(), 0x2000, true);
            serverView.view().putLong(0x18, 0x1122334455667788L);
            assertThat(mem.memory().order(ByteOrder.LITTLE_ENDIAN).getLong(0x18)).isEqualTo(0x1122334455667788L);
            serverView.unmap();
            ops.dmaUnmap(0x100000, 0x2000);
            synchronized (device) {
                assertThat(device.dmaMaps).isEmpty();
            }
            assertThatThrownBy(() -> ops.dmaUnmap(0x100000, 0x2000)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void overlappingDmaMappingsAreRefusedBeforeReachingTheServer() throws Exception {
        try (TestDmaMemory a = TestDmaMemory.create(0x2000, false); TestDmaMemory b = TestDmaMemory.create(0x2000, false)) {
            ops.dmaMap(a, 0x10000, true, true);
            assertThatThrownBy(() -> ops.dmaMap(b, 0x11000, true, true)).isInstanceOf(BackendException.class)
                    .hasMessageContaining("EEXIST");
            assertThat(device.requests).filteredOn(h -> h.commandOrNull() == Command.DMA_MAP).hasSize(1);
            ops.dmaUnmap(0x10000, 0x2000);
        }
    }

    @Test
    void resetIsSentAndCounted() {
        ops.reset();
        ops.reset();
        assertThat(device.resets.get()).isEqualTo(2);
    }

    @Test
    void deviceFeatureGetReturnsTheDataAndUnknownFeaturesAreNotSupported() {
        byte[] migration = ops.deviceFeature(DeviceIoOps.FEATURE_GET | 1, new byte[0]);
        assertThat(ByteBuffer.wrap(migration).order(ByteOrder.LITTLE_ENDIAN).getLong()).isEqualTo(1);
        assertThat(ops.deviceFeature(DeviceIoOps.FEATURE_PROBE | DeviceIoOps.FEATURE_SET | 2, new byte[0])).isEmpty();
        byte[] state = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(3).putInt(-1).array();
        assertThat(ops.deviceFeature(DeviceIoOps.FEATURE_SET | 2, state)).isEmpty();
        assertThat(device.migrationState).isEqualTo(3);
        assertThatThrownBy(() -> ops.deviceFeature(DeviceIoOps.FEATURE_GET | 6, new byte[0]))
                .isInstanceOf(NotSupportedException.class).hasMessageContaining("ENOTTY");
    }

    @Test
    void migrationDataIsReadUpToItsSizeFieldAndWrittenInChunks() {
        device.migrationData = new byte[] {1, 2, 3, 4, 5, 6, 7};
        ByteBuffer dst = ByteBuffer.allocate(5);
        assertThat(ops.migrationDataRead(dst)).isEqualTo(5);
        assertThat(dst.array()).containsExactly(1, 2, 3, 4, 5);
        ByteBuffer rest = ByteBuffer.allocate(100);
        assertThat(ops.migrationDataRead(rest)).isEqualTo(2);
        assertThat(ops.migrationDataRead(ByteBuffer.allocate(100))).isZero();
        ops.migrationDataWrite(ByteBuffer.wrap(new byte[] {9, 8, 7}));
        assertThat(device.migrationIn.toByteArray()).containsExactly(9, 8, 7);
    }

    @Test
    void regionIoFdsAreReportedAndTheirDescriptorsClosed() throws Exception {
        long before = Fixture.openFds();
        List<VfioUserDevice.RegionIoFd> subs = ops.regionIoFds(0, FakeDevice.BAR0_SIZE);
        assertThat(subs).containsExactly(new VfioUserDevice.RegionIoFd(0x100, 4, 0, 0, 1, 0xabcd));
        assertThat(ops.regionIoFds(1, 4096)).isEmpty();
        assertThat(Fixture.openFds()).isEqualTo(before);
    }

    @Test
    void singleSocketModeWhenTheServerDoesNotTakeTheTwinSocket() {
        assertThat(device.proposedJson).contains("\"twin_socket\":{\"supported\":true");
        assertThat(ops.twinSocket()).isFalse();
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "twin socket: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void serverDmaIsServedWhileTheClientIsIdle(boolean twin) throws Exception {
        ops.close();
        device.release();
        device = new FakeDevice();
        device.offerTwin = twin;
        FakeDevice inner = device;
        server.close();
        // Writing the "doorbell" at BAR1 0xf00 makes the server DMA 16 bytes into client memory after
        // it has answered the write: nobody waits for a reply when the DMA_WRITE arrives.
        server = FakeServer.start(dir.resolve("dma.sock"), (peer, m) -> {
            inner.respond(peer, m);
            if (m.header().commandOrNull() == Command.REGION_WRITE && m.body().getLong(0) == 0xf00) {
                ByteBuffer cmd = FakeServer.le(16 + 16).putLong(0x200010).putLong(16);
                for (int i = 0; i < 16; i++) {
                    cmd.put((byte) (0xa0 + i));
                }
                try (var reply = peer.command(Command.DMA_WRITE, cmd.flip())) {
                    if (reply.header().isError()) {
                        throw new AssertionError("DMA_WRITE refused: " + reply.header());
                    }
                }
            }
        });
        ops = Fixture.open(server);
        assertThat(ops.twinSocket()).isEqualTo(twin);
        try (TestDmaMemory mem = TestDmaMemory.create(0x1000, false)) {
            ops.dmaMap(mem, 0x200000, true, true);
            write32(1, 0xf00, 1);
            ByteBuffer view = mem.memory();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (view.get(0x1f) != (byte) 0xaf && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            for (int i = 0; i < 16; i++) {
                assertThat(view.get(0x10 + i)).isEqualTo((byte) (0xa0 + i));
            }
            assertThat(view.get(0x0f)).isZero();
            assertThat(view.get(0x20)).isZero();
            ops.dmaUnmap(0x200000, 0x1000);
        }
    }

    private int read32(int region, long offset) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(region, offset, b);
        return b.getInt(0);
    }

    private void write32(int region, long offset, int value) {
        ops.regionWrite(region, offset, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, value), false);
    }

    static IrqSignal signal(EventFd e) {
        return new IrqSignal() {
            @Override
            public int fd() {
                return e.fd().value();
            }

            @Override
            public void signal() {
                try {
                    e.signal();
                } catch (Exception ex) {
                    throw new IllegalStateException(ex);
                }
            }
        };
    }
}
