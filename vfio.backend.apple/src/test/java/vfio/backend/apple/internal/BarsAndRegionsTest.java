package vfio.backend.apple.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.MappedArea;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;
import vfio.backend.apple.sim.FunctionSpec;
import vfio.backend.apple.sim.SimulatedDext.Call;
import vfio.posix.MappedMemory;

/** Synthesised device/region/IRQ info, the BAR rules, trapped access and region map/unmap. */
class BarsAndRegionsTest {
    private static final int RW = RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE;
    private SimRig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    @Test
    void deviceInfoCapabilitiesAndFeatureAreSynthesised() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        assertThat(ops.deviceInfo()).isEqualTo(new DeviceInfo(DeviceInfo.FLAG_PCI | DeviceInfo.FLAG_RESET, 9, 5));
        assertThat(ops.capabilities()).containsExactlyInAnyOrder(BackendCapability.REGION_MAP, BackendCapability.DMA,
                BackendCapability.DMA_IOVA_CHOSEN_BY_BACKEND);
        assertThatThrownBy(() -> ops.deviceFeature(DeviceIoOps.FEATURE_GET | 3, new byte[0]))
                .isInstanceOf(NotSupportedException.class).hasMessageContaining("ENOTTY");
    }

    @Test
    void regionInfoFollowsTheBarRules() throws Exception {
        rig = SimRig.edu(true, 1000);
        AppleDeviceIoOps ops = rig.open();
        int mmap = RW | RegionInfo.FLAG_MMAP;
        assertThat(ops.regionInfo(0)).isEqualTo(new RegionInfo(0, mmap, 1 << 20, 0)); // memory BAR
        assertThat(ops.regionInfo(1)).isEqualTo(new RegionInfo(1, 0, 0, 0)); // empty
        assertThat(ops.regionInfo(2)).isEqualTo(new RegionInfo(2, mmap, 64 << 10, 0)); // 64-bit prefetchable
        assertThat(ops.regionInfo(3)).isEqualTo(new RegionInfo(3, 0, 0, 0)); // its upper half
        assertThat(ops.regionInfo(4)).isEqualTo(new RegionInfo(4, RW, 256, 0)); // I/O: never mapped
        assertThat(ops.regionInfo(5)).isEqualTo(new RegionInfo(5, 0, 0, 0));
        assertThat(ops.regionInfo(Pci.REGION_ROM).size()).isZero();
        assertThat(ops.regionInfo(Pci.REGION_CONFIG)).isEqualTo(new RegionInfo(7, RW, 4096, 0));
        assertThat(ops.regionInfo(Pci.REGION_VGA).size()).isZero();
        for (int i = 0; i < 9; i++) {
            assertThat(ops.regionInfo(i).capabilities()).as("region %d", i).isEmpty(); // no sparse capability
        }
        assertThatThrownBy(() -> ops.regionInfo(9)).isInstanceOf(OutOfRangeException.class);
    }

    @Test
    void onlyMemoryBarsAreMappedAndPrefetchableOnesWriteCombining() throws Exception {
        rig = SimRig.edu(true, 1000);
        rig.open();
        List<String> maps = rig.calls(Selector.MAP_BAR).stream().map(c -> "bar" + c.arg(0) + " wc=" + c.arg(1)).toList();
        assertThat(maps).containsExactly("bar0 wc=0", "bar2 wc=1");
        assertThat(rig.calls(Selector.GET_BAR_INFO).stream().map(c -> c.arg(0)).toList())
                .as("the upper half of the 64-bit BAR is not asked for").containsExactly(0L, 1L, 2L, 4L, 5L);
    }

    @Test
    void aBarTheDextWillNotMapIsServedThroughMmioSelectorsAndNotOfferedForMapping() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        assertThat(ops.regionInfo(0)).isEqualTo(new RegionInfo(0, RW, 1 << 20, 0));
        assertThat(ops.regionMap(ops.regionInfo(0), List.of(new SparseArea(0, 1 << 20)))).isEmpty();
        rig.sim.clearCalls();
        ops.regionWrite(0, 0x80, le(8, 0x1122334455667788L), false);
        ops.regionWrite(0, 0x91, ByteBuffer.wrap(new byte[] {1, 2, 3}), false);
        List<String> writes = rig.calls(Selector.MMIO_WRITE).stream()
                .map(c -> String.format("%d@0x%x/%d", c.arg(0), c.arg(1), c.arg(2))).toList();
        assertThat(writes).containsExactly("0@0x80/8", "0@0x91/1", "0@0x92/2");
        ByteBuffer back = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(0, 0x80, back);
        assertThat(back.flip().getLong()).isEqualTo(0x1122334455667788L);
    }

    @Test
    void trappedAccessesToAMappedBarGoThroughTheMappingWithoutDextCalls() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        rig.sim.clearCalls();
        ops.regionWrite(2, 0x10, le(8, 0x0102030405060708L), false);
        ops.regionWrite(2, 0x20, le(4, 0xcafef00dL), false);
        ops.regionWrite(2, 0x26, le(2, 0xbeefL), false);
        ops.regionWrite(2, 0x29, le(1, 0x5aL), false);
        ByteBuffer mem = rig.function().bar(2);
        assertThat(mem.getLong(0x10)).isEqualTo(0x0102030405060708L);
        assertThat(mem.getInt(0x20)).isEqualTo(0xcafef00d);
        assertThat(mem.getShort(0x26)).isEqualTo((short) 0xbeef);
        assertThat(mem.get(0x29)).isEqualTo((byte) 0x5a);
        assertThat(rig.calls(Selector.MMIO_WRITE)).as("no dext call for a mapped BAR").isEmpty();

        mem.putLong(0x40, 0x8877665544332211L); // the "device" changes its memory
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(2, 0x40, b);
        assertThat(b.flip().getLong()).isEqualTo(0x8877665544332211L);
        ByteBuffer unaligned = ByteBuffer.allocate(5);
        ops.regionRead(2, 0x41, unaligned);
        assertThat(unaligned.array()).containsExactly(0x22, 0x33, 0x44, 0x55, 0x66);
        assertThat(rig.calls(Selector.MMIO_READ)).isEmpty();
    }

    @Test
    void trappedAccessesAreBoundsChecked() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        long size = 64 << 10;
        assertThatThrownBy(() -> ops.regionRead(2, size - 4, ByteBuffer.allocate(8)))
                .isInstanceOf(OutOfRangeException.class).hasMessageContaining("BAR2");
        assertThatThrownBy(() -> ops.regionWrite(2, -1, ByteBuffer.allocate(1), false)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> ops.regionRead(1, 0, ByteBuffer.allocate(4))).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> ops.regionRead(3, 0, ByteBuffer.allocate(4))).isInstanceOf(OutOfRangeException.class);
        ByteBuffer last = ByteBuffer.allocate(4);
        ops.regionRead(2, size - 4, last); // the last bytes are inside
        assertThat(last.remaining()).isZero();
    }

    @Test
    void ioBarsAreReachedThroughTheDext() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        rig.sim.clearCalls();
        ops.regionWrite(4, 0x10, le(4, 0x12345678L), false);
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(4, 0x10, b);
        assertThat(b.flip().getInt()).isEqualTo(0x12345678);
        assertThat(rig.calls(Selector.MMIO_WRITE)).hasSize(1);
        assertThat(ops.regionMap(ops.regionInfo(4), List.of(new SparseArea(0, 256)))).isEmpty();
    }

    @Test
    void regionMapHandsOverAnAliasOfTheBarThatRegionUnmapLeavesInPlace() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        RegionInfo bar2 = ops.regionInfo(2);
        List<MappedArea> areas = ops.regionMap(bar2, List.of(new SparseArea(0, bar2.size())));
        assertThat(areas).hasSize(1);
        MappedArea a = areas.get(0);
        assertThat(a.offset()).isZero();
        assertThat(a.size()).isEqualTo(bar2.size());
        assertThat(a.address() % MappedMemory.pageSize()).isZero();

        new Pointer(a.address()).setLong(0x100, 0xfeedfacecafebeefL); // a store through the core's mapping
        assertThat(rig.function().bar(2).getLong(0x100)).isEqualTo(0xfeedfacecafebeefL);
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(2, 0x100, b); // trapped access uses the session's own mapping, not the alias
        assertThat(b.flip().getLong()).isEqualTo(0xfeedfacecafebeefL);

        // What the core does: revoke, then region_unmap, then unmap its replacement memory later.
        MappedMemory core = MappedMemory.adopt(a.address(), a.size());
        core.revoke();
        ops.regionUnmap(2, areas);
        assertThat(mapped(a.address())).as("the backend must not unmap the range").isTrue();
        assertThat(rig.function().aliasesUnmapped()).isZero();
        assertThat(new Pointer(a.address()).getLong(0x100)).as("revoked pages are the core's zeros").isZero();
        assertThat(rig.function().bar(2).getLong(0x100)).isEqualTo(0xfeedfacecafebeefL);
        core.unmap();
        assertThat(mapped(a.address())).isFalse();

        ByteBuffer again = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(2, 0x100, again);
        assertThat(again.flip().getLong()).as("trapped access still works").isEqualTo(0xfeedfacecafebeefL);
    }

    @Test
    void areasThatDoNotStartOnAPageAreLeftToReadAndWrite() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        long page = MappedMemory.pageSize();
        List<MappedArea> areas = ops.regionMap(ops.regionInfo(2), List.of(new SparseArea(0, page), new SparseArea(page + 8, 64)));
        assertThat(areas).extracting(MappedArea::offset).containsExactly(0L);
        ops.regionUnmap(2, areas);
        MappedMemory.adopt(areas.get(0).address(), page).unmap();
    }

    @Test
    void aFailedRegionMapUnmapsWhatItHadMapped() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        long page = MappedMemory.pageSize();
        rig.sim.failLater(Selector.MAP_BAR, 1, KernReturn.NO_MEMORY);
        assertThatThrownBy(() -> ops.regionMap(ops.regionInfo(2), List.of(new SparseArea(0, page), new SparseArea(2 * page, page))))
                .isInstanceOf(BackendException.class).hasMessageContaining("kIOReturnNoMemory");
        assertThat(rig.function().aliasesMade()).isEqualTo(1);
        assertThat(rig.function().aliasesUnmapped()).isEqualTo(1);
    }

    @Test
    void irqInfoCountsComeFromSetupInterruptsAndTheMsixCapability() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        assertThat(ops.irqInfo(Pci.IRQ_INTX)).isEqualTo(new IrqInfo(0, IrqInfo.FLAG_EVENTFD, 1));
        assertThat(ops.irqInfo(Pci.IRQ_MSI)).isEqualTo(new IrqInfo(1, IrqInfo.FLAG_EVENTFD, 8)); // SetupInterrupts: MSI-X first
        assertThat(ops.irqInfo(Pci.IRQ_MSIX)).isEqualTo(new IrqInfo(2, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_NORESIZE, 8));
        assertThat(ops.irqInfo(Pci.IRQ_ERR).count()).isZero();
        assertThat(ops.irqInfo(Pci.IRQ_REQ).count()).isZero();
        assertThat(rig.calls(Selector.SETUP_INTERRUPTS)).hasSize(1);
        rig.close();

        rig = new SimRig(List.of(FunctionSpec.edu(SimRig.BDF, false, 0)), 1000);
        ops = rig.open();
        assertThat(ops.irqInfo(Pci.IRQ_MSI).count()).isEqualTo(1); // MSI only
        assertThat(ops.irqInfo(Pci.IRQ_MSIX).count()).isZero();
        rig.close();

        rig = new SimRig(List.of(FunctionSpec.edu(new Bdf(0, 2, 0), false, 2048)), 1000);
        ops = rig.open();
        assertThat(ops.irqInfo(Pci.IRQ_MSIX).count()).as("the dext bitmap has 256 bits").isEqualTo(256);
    }

    @Test
    void aFailedSetupInterruptsLeavesNoMsiVectors() throws Exception {
        rig = SimRig.edu(false, 1000);
        rig.sim.failNext(Selector.SETUP_INTERRUPTS, KernReturn.UNSUPPORTED);
        AppleDeviceIoOps ops = rig.open();
        assertThat(ops.irqInfo(Pci.IRQ_MSI).count()).isZero();
        List<Call> setups = rig.calls(Selector.SETUP_INTERRUPTS);
        assertThat(setups).singleElement().extracting(Call::kernReturn).isEqualTo(KernReturn.UNSUPPORTED);
    }

    private static ByteBuffer le(int width, long value) {
        ByteBuffer b = ByteBuffer.allocate(width).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < width; i++) {
            b.put((byte) (value >>> (8 * i)));
        }
        return b.flip();
    }

    /** @return whether {@code address} lies in a mapping of this process (/proc/self/maps) */
    static boolean mapped(long address) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            long start = Long.parseUnsignedLong(range[0], 16);
            long end = Long.parseUnsignedLong(range[1], 16);
            if (Long.compareUnsigned(address, start) >= 0 && Long.compareUnsigned(address, end) < 0) {
                return true;
            }
        }
        return false;
    }
}
