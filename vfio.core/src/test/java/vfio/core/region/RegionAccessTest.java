package vfio.core.region;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.BackendCapability;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.api.device.Region;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.core.device.DeviceRig;
import vfio.core.testing.MemoryBackendFactory;

/**
 * Access routing on a real memory device: bar0 is mapped whole, bar2 has mapped areas [0, 4K) and
 * [8K, 12K) with a hole between, config is never mapped. The backend counts slow-path calls, so a
 * count that does not move proves the access took the fast path.
 */
class RegionAccessTest {
    private DeviceRig rig;
    private MemoryBackendFactory backend;

    @BeforeEach
    void bind() throws Exception {
        rig = new DeviceRig();
        backend = rig.register(rig.backend("mem"));
        rig.awaitBoundTo("mem");
    }

    @AfterEach
    void close() {
        rig.close();
        assertThat(backend.violations()).isEmpty();
    }

    @Test
    void alignedAccessesOfEveryWidthUseTheMappingAndAreLittleEndian() throws Exception {
        Region bar0 = rig.device.region("bar0");
        bar0.write64(0x100, 0x1122334455667788L);
        bar0.write32(0x108, 0xA1B2C3D4);
        bar0.write16(0x10C, 0xBEEF);
        bar0.write8(0x10E, 0x7F);
        assertThat(bar0.read64(0x100)).isEqualTo(0x1122334455667788L);
        assertThat(bar0.read32(0x100)).isEqualTo(0x55667788);
        assertThat(bar0.read16(0x104)).isEqualTo(0x3344);
        assertThat(bar0.read8(0x107)).isEqualTo(0x11);
        assertThat(bar0.read32(0x108)).isEqualTo(0xA1B2C3D4);
        assertThat(bar0.read16(0x10C)).isEqualTo(0xBEEF);
        assertThat(bar0.read8(0x10E)).isEqualTo(0x7F);
        assertThat(backend.regionReads() + backend.regionWrites()).isZero();
        // the stores reached the device's memory
        assertThat(rig.memory.peek(0, 0x100, 8)).isEqualTo(0x1122334455667788L);
        assertThat(rig.memory.peek(0, 0x10C, 2)).isEqualTo(0xBEEF);
        // and device-side changes are seen
        rig.memory.poke(0, 0xFFF8, 8, -2L);
        assertThat(bar0.read64(0xFFF8)).isEqualTo(-2L);
        assertThat(bar0.read16(0xFFFE)).isEqualTo(0xFFFF);
        assertThat(bar0.read8(0xFFFF)).isEqualTo(0xFF);
    }

    @Test
    void unalignedAccessesTakeTheSlowPathAndStillReadTheSameMemory() throws Exception {
        Region bar0 = rig.device.region(0);
        rig.memory.poke(0, 0x200, 8, 0x0807060504030201L);
        assertThat(bar0.read32(0x201)).isEqualTo(0x05040302);
        assertThat(backend.regionReads()).isEqualTo(1);
        assertThat(bar0.read16(0x203)).isEqualTo(0x0504);
        assertThat(bar0.read64(0x204)).isEqualTo(0x08070605L);
        assertThat(backend.regionReads()).isEqualTo(3);
        bar0.write32(0x302, 0xCAFEF00D);
        assertThat(backend.regionWrites()).isEqualTo(1);
        assertThat(rig.memory.peek(0, 0x302, 4)).isEqualTo(0xCAFEF00DL);
        assertThat(bar0.read32(0x302)).isEqualTo(0xCAFEF00D);
    }

    @Test
    void sparseRegionMapsOnlyItsAreasAndRoutesTheRest() throws Exception {
        Region bar2 = rig.device.region("bar2");
        assertThat(bar2.mappedRanges()).containsExactly(new SparseArea(0, 4096), new SparseArea(8192, 4096));

        bar2.write32(0x10, 1);              // inside the first area: fast
        bar2.write32(0x2010, 2);            // inside the second area: fast
        assertThat(backend.regionWrites()).isZero();
        bar2.write32(0x1010, 3);            // in the hole: slow
        assertThat(backend.regionWrites()).isEqualTo(1);
        bar2.write64(0x3FF8, 4);            // after the second area: slow
        assertThat(backend.regionWrites()).isEqualTo(2);

        rig.memory.poke(2, 0xFF8, 8, 0x1111111111111111L);
        rig.memory.poke(2, 0x1000, 8, 0x2222222222222222L);
        int before = backend.regionReads();
        // 8 bytes at 0xFFC straddle the mapped area and the hole (and are unaligned): slow path
        assertThat(bar2.read64(0xFFC)).isEqualTo(0x2222222211111111L);
        assertThat(backend.regionReads()).isEqualTo(before + 1);
        assertThat(bar2.read32(0x1010)).isEqualTo(3);
        assertThat(rig.memory.peek(2, 0x10, 4)).isEqualTo(1);
        assertThat(rig.memory.peek(2, 0x2010, 4)).isEqualTo(2);
    }

    @Test
    void configSpaceIsNeverMappedButFullyAccessible() throws Exception {
        Region config = rig.device.region(Pci.REGION_CONFIG);
        assertThat(config.mappedRanges()).isEmpty();
        config.write16(0x04, 0x0406);
        assertThat(config.read16(0x04)).isEqualTo(0x0406);
        assertThat(backend.regionWrites()).isEqualTo(1);
        assertThat(backend.regionReads()).isEqualTo(1);
    }

    @Test
    void outOfRangeAccessesFailBeforeAnyBackendCall() {
        Region bar0 = rig.device.region(0);
        Region config = rig.device.region("config");
        long size = bar0.size();
        assertThatThrownBy(() -> bar0.read32(size)).isInstanceOf(OutOfRangeException.class)
                .hasMessageContaining("region bar0 of device dev0").hasMessageContaining("0x10000");
        assertThatThrownBy(() -> bar0.read64(size - 4)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> bar0.read8(-1)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> bar0.write64(Long.MAX_VALUE, 0)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> bar0.write16(Long.MIN_VALUE, 0)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> config.write32(4094, 0)).isInstanceOf(OutOfRangeException.class)
                .hasMessageContaining("4096");
        assertThatThrownBy(() -> config.read(4000, new byte[200], 0, 200)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> rig.device.region(5).read32(0)).isInstanceOf(OutOfRangeException.class)
                .hasMessageContaining("size is 0x0");
        assertThatThrownBy(() -> rig.device.region(9)).isInstanceOf(OutOfRangeException.class)
                .hasMessageContaining("has no region 9");
        assertThat(backend.regionReads() + backend.regionWrites()).isZero();
    }

    @Test
    void bulkTransfersInsideOneAreaAreMappedAndOthersGoThroughTheBackend() throws Exception {
        Region bar2 = rig.device.region(2);
        byte[] data = new byte[64];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        bar2.write(0x100, data, 0, 64);
        assertThat(backend.regionWrites()).isZero();
        bar2.write(0xFE0, data, 0, 64); // crosses into the hole
        assertThat(backend.regionWrites()).isEqualTo(1);
        byte[] back = new byte[64];
        bar2.read(0xFE0, back, 0, 64);
        assertThat(back).isEqualTo(data);
        assertThat(backend.regionReads()).isEqualTo(1);
        bar2.read(0x100, back, 0, 64);
        assertThat(back).isEqualTo(data);
        assertThat(backend.regionReads()).isEqualTo(1);
        assertThat(rig.memory.peek(2, 0x1000, 1)).isEqualTo(32);
        assertThatThrownBy(() -> bar2.read(0, back, 60, 8)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void disablingTheMappingSendsEveryAccessToTheBackendAndEnablingRestoresIt() {
        Region bar0 = rig.device.region(0);
        bar0.setMappingEnabled(false);
        assertThat(bar0.mappedRanges()).isEmpty();
        bar0.write32(0, 42);
        assertThat(bar0.read32(0)).isEqualTo(42);
        assertThat(backend.regionWrites()).isEqualTo(1);
        assertThat(backend.regionReads()).isEqualTo(1);
        bar0.setMappingEnabled(true);
        assertThat(bar0.mappedRanges()).containsExactly(new SparseArea(0, 0x10000));
        assertThat(bar0.read32(0)).isEqualTo(42);
        assertThat(backend.regionReads()).isEqualTo(1);
        assertThat(backend.regionMaps()).isEqualTo(2); // bar0 and bar2, once each: disabling keeps the mapping
    }

    @Test
    void aBackendThatCannotMapServesEverythingThroughReadAndWrite() throws Exception {
        MemoryBackendFactory plain = rig.backend("plain");
        plain.setCapabilities(EnumSet.of(BackendCapability.DMA));
        plain.setScore(200);
        rig.register(plain);
        rig.awaitBoundTo("plain");
        Region bar0 = rig.device.region(0);
        assertThat(bar0.mappedRanges()).isEmpty();
        bar0.write64(8, 77);
        assertThat(bar0.read64(8)).isEqualTo(77);
        assertThat(plain.regionMaps()).isZero();
        assertThat(plain.regionWrites()).isEqualTo(1);
        assertThat(plain.regionReads()).isEqualTo(1);
    }

    @Test
    void postedWritesAreUsedOnlyWhenAskedFor() throws Exception {
        Region config = rig.device.region("config");
        config.setPostedWrites(true);
        config.write32(0x10, 0x12345678);
        assertThat(rig.memory.peek(Pci.REGION_CONFIG, 0x10, 4)).isEqualTo(0x12345678L);
    }

    @Test
    void regionWithoutWriteFlagRefusesWrites() throws Exception {
        rig.close();
        try (vfio.core.testing.MemoryDevice ro = vfio.core.testing.MemoryDevice.of(DeviceRig.ADDRESS,
                java.util.List.of(new vfio.api.device.RegionInfo(0, vfio.api.device.RegionInfo.FLAG_READ, 4096, 0)))) {
            DeviceRig r2 = new DeviceRig();
            try {
                MemoryBackendFactory f = r2.register(new MemoryBackendFactory("ro", ro));
                r2.awaitBoundTo("ro");
                Region r = r2.device.region(0);
                assertThat(r.read32(0)).isZero();
                assertThatThrownBy(() -> r.write32(0, 1)).isInstanceOf(NotSupportedException.class)
                        .hasMessageContaining("cannot be written");
                assertThat(f.regionWrites()).isZero();
            } finally {
                r2.close();
            }
        }
        rig = new DeviceRig();
        backend = rig.register(rig.backend("mem"));
    }

    @Test
    void aReadOnlyRegionMappedReadOnlyIsReadThroughTheMappingAndRefusesStoresWithoutTouchingIt() throws Exception {
        // The Linux backend maps a region without the WRITE flag PROT_READ, as this test backend now
        // does: a store through that mapping would be SIGSEGV, a JVM crash.
        rig.close();
        int flags = vfio.api.device.RegionInfo.FLAG_READ | vfio.api.device.RegionInfo.FLAG_MMAP;
        try (vfio.core.testing.MemoryDevice ro = vfio.core.testing.MemoryDevice.of(DeviceRig.ADDRESS,
                java.util.List.of(new vfio.api.device.RegionInfo(0, flags, 4096, 0)))) {
            DeviceRig r2 = new DeviceRig();
            try {
                MemoryBackendFactory f = r2.register(new MemoryBackendFactory("ro", ro));
                r2.awaitBoundTo("ro");
                Region r = r2.device.region(0);
                assertThat(r.mappedRanges()).containsExactly(new SparseArea(0, 4096));
                ro.poke(0, 0x10, 4, 0x1234);
                assertThat(r.read32(0x10)).isEqualTo(0x1234);
                assertThat(r.read8(0x10)).isEqualTo(0x34);
                assertThat(f.regionReads()).isZero(); // through the mapping
                for (int width : new int[] {1, 2, 4, 8}) {
                    assertThatThrownBy(() -> {
                        switch (width) {
                            case 1 -> r.write8(0x10, 1);
                            case 2 -> r.write16(0x10, 1);
                            case 4 -> r.write32(0x10, 1);
                            default -> r.write64(0x10, 1);
                        }
                    }).as("write%d", width * 8).isInstanceOf(NotSupportedException.class)
                            .hasMessageContaining("cannot be written");
                }
                assertThatThrownBy(() -> r.write(0x10, new byte[4], 0, 4)).isInstanceOf(NotSupportedException.class);
                assertThat(f.regionWrites()).isZero();
                assertThat(r.read32(0x10)).isEqualTo(0x1234);
            } finally {
                r2.close();
            }
        }
        rig = new DeviceRig();
        backend = rig.register(rig.backend("mem"));
    }
}
