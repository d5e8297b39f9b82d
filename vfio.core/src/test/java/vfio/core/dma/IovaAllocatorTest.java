package vfio.core.dma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import vfio.api.device.DeviceException;

class IovaAllocatorTest {
    private static final long PAGE = 4096;

    @Test
    void handsOutNonOverlappingRangesFromOneMegabyteUp() {
        IovaAllocator a = new IovaAllocator();
        long x = a.allocate(2 * PAGE, -1);
        long y = a.allocate(PAGE, -1);
        assertThat(x).isEqualTo(IovaAllocator.FIRST);
        assertThat(y).isEqualTo(x + 2 * PAGE);
    }

    @Test
    void reusesAFreedGapThatFits() {
        IovaAllocator a = new IovaAllocator();
        long x = a.allocate(2 * PAGE, -1);
        long y = a.allocate(PAGE, -1);
        a.release(x);
        assertThat(a.allocate(PAGE, -1)).isEqualTo(x);
        assertThat(a.allocate(PAGE, -1)).isEqualTo(x + PAGE);
        assertThat(a.allocate(PAGE, -1)).isEqualTo(y + PAGE);
    }

    @Test
    void staysBelowTheLimitOrSaysWhy() {
        IovaAllocator a = new IovaAllocator();
        long limit = IovaAllocator.FIRST + 2 * PAGE - 1;
        a.allocate(PAGE, limit);
        a.allocate(PAGE, limit);
        assertThatThrownBy(() -> a.allocate(PAGE, limit)).isInstanceOf(DeviceException.class)
                .hasMessageContaining("no free IOVA range").hasMessageContaining("0x101fff");
        assertThatThrownBy(() -> new IovaAllocator().allocate(PAGE, 0xFFFF)).isInstanceOf(DeviceException.class);
    }
}
