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
                    List.of(new SparseArea(0x1000, 3 * GIB)));
            assertThat(v.buffers).hasSize(3);
            assertThat(v.zeroBased).isFalse(); // its first chunk starts at 0x1000
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
            // what raw loads read: the same bytes as the chunk's buffer
            assertThat(v.address(firstOfSecond)).isEqualTo(mem.address() + GIB);
            assertThat(v.address(lastOfFirst)).isEqualTo(mem.address() + GIB - 8);
            long inThird = v.locate(0x1000 + 3 * GIB - 4, 4);
            assertThat(v.address(inThird)).isEqualTo(mem.address() + 3 * GIB - 4);
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
            assertThatThrownBy(() -> MappedView.of(List.of(new MappedArea(0, 8192, mem.address())), asked))
                    .hasMessageContaining("was not asked for");
            assertThatThrownBy(() -> MappedView.of(List.of(new MappedArea(4096, 4096, mem.address()),
                    new MappedArea(0, 4096, mem.address() + 4096)), asked)).hasMessageContaining("out of order");
            assertThatThrownBy(() -> MappedView.of(List.of(new MappedArea(0, 4096, mem.address() + 8)), asked))
                    .hasMessageContaining("not page aligned");
            // leaving an area out is allowed
            assertThat(MappedView.of(List.of(new MappedArea(4096, 4096, mem.address())), asked).ranges())
                    .containsExactly(new SparseArea(4096, 4096));
        } finally {
            mem.unmap();
        }
    }

    @Test
    void aViewWhoseFirstChunkStartsAtOffsetZeroTakesRegionOffsetsThereAsLocations() throws Exception {
        MappedMemory mem = MappedMemory.anonymous(3 * 4096);
        try {
            List<SparseArea> both = List.of(new SparseArea(0, 4096), new SparseArea(8192, 4096));
            MappedView v = MappedView.of(List.of(new MappedArea(0, 4096, mem.address()),
                    new MappedArea(8192, 4096, mem.address() + 8192)), both);
            assertThat(v.zeroBased).isTrue();
            assertThat(v.locateFromZero(4096 - 8, 8)).isEqualTo(4096 - 8).isEqualTo(v.locate(4096 - 8, 8));
            assertThat(v.address(0x100)).isEqualTo(mem.address() + 0x100);
            assertThat(v.locateFromZero(4096 - 4, 8)).isEqualTo(-1);  // would run past the chunk
            assertThat(v.locateFromZero(8192 + 0x10, 4)).isEqualTo(v.locate(8192 + 0x10, 4)).isEqualTo((1L << 32) | 0x10);
            assertThat(v.locateFromZero(4096, 4)).isEqualTo(-1);     // the trapped hole
            assertThat(v.address(v.locate(8192 + 0x10, 4))).isEqualTo(mem.address() + 8192 + 0x10);
            assertThat(v.locateFromZero(-4, 4)).isEqualTo(-1);
            assertThat(v.locateFromZero(6, 4)).isEqualTo(-1);         // unaligned
            List<SparseArea> second = List.of(new SparseArea(4096, 4096));
            assertThat(MappedView.of(List.of(new MappedArea(4096, 4096, mem.address())), second).zeroBased)
                    .isFalse();
        } finally {
            mem.unmap();
        }
    }
}
