package vfio.api.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;
import vfio.api.device.BackendException;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

class VfioStructsTest {
    private static final String OP = "TEST_GET_REGION_INFO";

    private static RegionInfo sample() {
        return new RegionInfo(2, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE | RegionInfo.FLAG_MMAP, 0x4000, 2L << 40,
                List.of(new RegionCapability.SparseMmap(List.of(new SparseArea(0, 0x1000), new SparseArea(0x3000, 0x1000))),
                        new RegionCapability.Type(0x8086_0000, 3), new RegionCapability.MsixMappable(),
                        new RegionCapability.Unknown(99, 2, new byte[] {1, 2, 3})));
    }

    @Test
    void regionInfoWithEveryCapabilityRoundTrips() {
        RegionInfo info = sample();
        ByteBuffer b = ByteBuffer.allocate(512);
        int n = VfioStructs.encodeRegionInfo(info, b, 512);
        b.flip();
        assertThat(n).isEqualTo(VfioStructs.regionInfoSize(info));
        RegionInfo back = VfioStructs.decodeRegionInfo(b, 2, OP);
        assertThat(back.size()).isEqualTo(0x4000);
        assertThat(back.offset()).isEqualTo(2L << 40);
        assertThat(back.sparseAreas()).contains(List.of(new SparseArea(0, 0x1000), new SparseArea(0x3000, 0x1000)));
        assertThat(back.type()).contains(new RegionCapability.Type(0x8086_0000, 3));
        assertThat(back.msixMappable()).isTrue();
        assertThat(back.capabilities().get(3)).isInstanceOfSatisfying(RegionCapability.Unknown.class,
                u -> assertThat(u.body()).startsWith(1, 2, 3));
    }

    @Test
    void aShortRequestGetsTheFixedPartAndTheArgszNeeded() {
        RegionInfo info = sample();
        ByteBuffer b = ByteBuffer.allocate(512);
        assertThat(VfioStructs.encodeRegionInfo(info, b, VfioStructs.REGION_INFO_SIZE)).isEqualTo(32);
        b.flip();
        assertThat(VfioStructs.regionInfoArgsz(b, OP)).isEqualTo(VfioStructs.regionInfoSize(info));
        assertThat(VfioStructs.decodeRegionInfo(b, 2, OP).capabilities()).isEmpty();
    }

    @Test
    void aCapabilityChainThatLoopsIsRefused() {
        ByteBuffer b = encoded();
        b.putInt(32 + 4, 32); // first capability points back at itself
        assertThatThrownBy(() -> VfioStructs.decodeRegionInfo(b, 2, OP)).isInstanceOf(BackendException.class)
                .hasMessageContaining("EPROTO").hasMessageContaining("does not follow");
    }

    @Test
    void aCapabilityOutsideTheReplyIsRefused() {
        ByteBuffer b = encoded();
        b.putInt(12, 4000);
        assertThatThrownBy(() -> VfioStructs.decodeRegionInfo(b, 2, OP)).isInstanceOf(BackendException.class)
                .hasMessageContaining("outside");
    }

    @Test
    void aSparseCapabilityClaimingMoreAreasThanFitIsRefused() {
        ByteBuffer b = encoded();
        b.putInt(32 + 8, 1_000_000);
        assertThatThrownBy(() -> VfioStructs.decodeRegionInfo(b, 2, OP)).isInstanceOf(BackendException.class)
                .hasMessageContaining("claims");
    }

    @Test
    void aReplyAboutAnotherRegionOrTooShortIsRefused() {
        assertThatThrownBy(() -> VfioStructs.decodeRegionInfo(encoded(), 3, OP)).hasMessageContaining("index 2 when 3");
        assertThatThrownBy(() -> VfioStructs.decodeRegionInfo(ByteBuffer.allocate(10), 0, OP))
                .isInstanceOf(BackendException.class).hasMessageContaining("10 bytes");
    }

    @Test
    void absurdIrqCountsAreRefused() {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(16).putInt(1).putInt(2).putInt(-1);
        b.flip();
        assertThatThrownBy(() -> VfioStructs.decodeIrqInfo(b, 2, OP)).hasMessageContaining("absurd IRQ count");
    }

    private static ByteBuffer encoded() {
        ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        VfioStructs.encodeRegionInfo(sample(), b, 512);
        b.flip();
        return b;
    }
}
