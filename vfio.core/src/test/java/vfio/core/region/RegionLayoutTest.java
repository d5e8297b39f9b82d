package vfio.core.region;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

class RegionLayoutTest {
    private static final int RW = RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE;

    private static RegionInfo sparse(long size, SparseArea... areas) {
        return new RegionInfo(2, RW | RegionInfo.FLAG_MMAP, size, 0,
                List.of(new RegionCapability.Type(3, 1), new RegionCapability.SparseMmap(List.of(areas))));
    }

    @Test
    void sparseAreasAreSortedAndEmptyOnesSkipped() {
        RegionInfo info = sparse(0x4000, new SparseArea(0x2000, 0x1000), new SparseArea(0x1000, 0),
                new SparseArea(0, 0x1000));
        assertThat(RegionLayout.mappableAreas("d", info))
                .containsExactly(new SparseArea(0, 0x1000), new SparseArea(0x2000, 0x1000));
    }

    @Test
    void adjacentAreasAreAccepted() {
        RegionInfo info = sparse(0x2000, new SparseArea(0x1000, 0x1000), new SparseArea(0, 0x1000));
        assertThat(RegionLayout.mappableAreas("d", info)).hasSize(2);
    }

    @Test
    void overlappingAreasAreRejectedNamingRegionAndAreas() {
        RegionInfo info = sparse(0x4000, new SparseArea(0x1000, 0x1000), new SparseArea(0, 0x2000));
        assertThatThrownBy(() -> RegionLayout.mappableAreas("nic0", info))
                .isInstanceOf(RegionLayout.InvalidLayoutException.class)
                .hasMessageContaining("region bar2 (index 2) of device nic0")
                .hasMessageContaining("[0x0, 0x2000)").hasMessageContaining("[0x1000, 0x2000)")
                .hasMessageContaining("overlap").hasMessageContaining("read/write only");
    }

    @Test
    void areaReachingPastTheRegionIsRejected() {
        RegionInfo info = sparse(0x4000, new SparseArea(0x3000, 0x2000));
        assertThatThrownBy(() -> RegionLayout.mappableAreas("nic0", info))
                .isInstanceOf(RegionLayout.InvalidLayoutException.class)
                .hasMessageContaining("[0x3000, 0x5000)").hasMessageContaining("past the end")
                .hasMessageContaining("0x4000");
    }

    @Test
    void areaWhoseEndOverflowsIsRejected() {
        RegionInfo info = sparse(0x4000, new SparseArea(0x1000, Long.MAX_VALUE));
        assertThatThrownBy(() -> RegionLayout.mappableAreas("d", info))
                .isInstanceOf(RegionLayout.InvalidLayoutException.class);
    }

    @Test
    void negativeAreaIsRejected() {
        RegionInfo info = sparse(0x4000, new SparseArea(-0x1000, 0x1000));
        assertThatThrownBy(() -> RegionLayout.mappableAreas("d", info))
                .isInstanceOf(RegionLayout.InvalidLayoutException.class).hasMessageContaining("negative");
    }

    @Test
    void mmapRegionWithoutSparseCapabilityIsOneAreaCoveringIt() {
        RegionInfo info = new RegionInfo(0, RW | RegionInfo.FLAG_MMAP, 0x10000, 0);
        assertThat(RegionLayout.mappableAreas("d", info)).containsExactly(new SparseArea(0, 0x10000));
    }

    @Test
    void regionWithoutMmapFlagIsNotMapped() {
        assertThat(RegionLayout.mappableAreas("d", new RegionInfo(7, RW, 4096, 0))).isEmpty();
        assertThat(RegionLayout.mappableAreas("d", new RegionInfo(2, RW, 0x4000, 0,
                List.of(new RegionCapability.SparseMmap(List.of(new SparseArea(0, 0x1000))))))).isEmpty();
    }

    @Test
    void emptyRegionIsNotMapped() {
        assertThat(RegionLayout.mappableAreas("d", new RegionInfo(1, RW | RegionInfo.FLAG_MMAP, 0, 0))).isEmpty();
    }

    @Test
    void sparseCapabilityWithOnlyEmptyAreasMapsNothing() {
        assertThat(RegionLayout.mappableAreas("d", sparse(0x4000, new SparseArea(0, 0)))).isEmpty();
    }
}
