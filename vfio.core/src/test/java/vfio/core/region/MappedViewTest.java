package vfio.core.region;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import vfio.api.backend.MappedArea;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.posix.MappedMemory;

class MappedViewTest {
    private static final long GIB = 1L << 30;

    @Test
    void anAreaLargerThanOneBufferIsViewedInChunksThatAlignedAccessesNeverStraddle() throws Exception {
        // 3 GiB of reserved-only memory: untouched pages cost nothing
        MappedMemory mem = MappedMemory.anonymous(3 * GIB);
        try {
            MappedView v = MappedView.of(List.of(new MappedArea(0x1000, 3 * GIB, mem.address())),
                    List.of(new SparseArea(0x1000, 3 * GIB)), 0x1000 + 3 * GIB);
            assertThat(v.buffers).hasSize(3);
            assertThat(v.whole).isNull();
            long lastOfFirst = v.locate(0x1000 + GIB - 8, 8);
            assertThat(lastOfFirst).isEqualTo(GIB - 8);
            long firstOfSecond = v.locate(0x1000 + GIB, 8);
            assertThat(firstOfSecond >>> 32).isEqualTo(1);
            assertThat((int) firstOfSecond).isZero();
            assertThat(v.locate(0x1000 + GIB - 4, 8)).isEqualTo(-1); // unaligned, would straddle
            assertThat(v.locate(0x1000 + 3 * GIB - 4, 4) >>> 32).isEqualTo(2);
            assertThat(v.locate(0x1000 + 3 * GIB, 1)).isEqualTo(-1);  // past the end
            assertThat(v.locate(0xFFF, 1)).isEqualTo(-1);             // before the start
            v.buffer(firstOfSecond).putLong((int) firstOfSecond, 42);
            assertThat(MappedMemory.adopt(mem.address(), 4096).view().getLong(0)).isZero();
            assertThat(MappedMemory.adopt(mem.address() + GIB, 4096).view().getLong(0)).isEqualTo(42);
            assertThat(v.chunkContaining(0x1000 + GIB - 8, 16)).isEqualTo(-1);
            assertThat(v.chunkContaining(0x1000 + GIB, 16)).isEqualTo(1);
        } finally {
            mem.unmap();
        }
    }

    @Test
    void areasTheBackendWasNotAskedForAreRejected() throws Exception {
        MappedMemory mem = MappedMemory.anonymous(8192);
        try {
            List<SparseArea> asked = List.of(new SparseArea(0, 4096), new SparseArea(4096, 4096));
            assertThatThrownBy(() -> MappedView.of(List.of(new MappedArea(0, 8192, mem.address())), asked, 8192))
                    .hasMessageContaining("was not asked for");
            assertThatThrownBy(() -> MappedView.of(List.of(new MappedArea(4096, 4096, mem.address()),
                    new MappedArea(0, 4096, mem.address() + 4096)), asked, 8192)).hasMessageContaining("out of order");
            assertThatThrownBy(() -> MappedView.of(List.of(new MappedArea(0, 4096, mem.address() + 8)), asked, 8192))
                    .hasMessageContaining("not page aligned");
            // leaving an area out is allowed
            assertThat(MappedView.of(List.of(new MappedArea(4096, 4096, mem.address())), asked, 8192).ranges())
                    .containsExactly(new SparseArea(4096, 4096));
        } finally {
            mem.unmap();
        }
    }

    @Test
    void onlyOneAreaCoveringTheRegionFromOffsetZeroIsWhole() throws Exception {
        MappedMemory mem = MappedMemory.anonymous(8192);
        try {
            List<SparseArea> both = List.of(new SparseArea(0, 8192));
            assertThat(MappedView.of(List.of(new MappedArea(0, 8192, mem.address())), both, 8192).whole)
                    .isNotNull().satisfies(b -> assertThat(b.capacity()).isEqualTo(8192));
            // a region larger than its one area (a trapped tail) is not whole: its tail needs the backend
            assertThat(MappedView.of(List.of(new MappedArea(0, 8192, mem.address())), both, 16384).whole).isNull();
            List<SparseArea> second = List.of(new SparseArea(4096, 4096));
            assertThat(MappedView.of(List.of(new MappedArea(4096, 4096, mem.address())), second, 8192).whole)
                    .isNull();
        } finally {
            mem.unmap();
        }
    }
}
