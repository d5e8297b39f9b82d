package vfio.backend.ioctl.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;
import vfio.api.device.BackendException;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionInfo;

/**
 * {@code VFIO_DEVICE_GET_REGION_INFO} against a fake kernel: the argsz retry and the capability chain,
 * including malformed chains, which must end in a {@link BackendException} naming the problem and
 * never in an exception from ByteBuffer.
 */
class RegionInfoQueryTest {
    private static final int FLAGS = RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE | RegionInfo.FLAG_MMAP
            | RegionInfo.FLAG_CAPS;

    private final FakeDeviceFile device = new FakeDeviceFile();

    /** A chain of sparse-mmap (two areas), type, MSI-X mappable and an unknown capability. */
    private static byte[] fullChain() {
        int sparse = 32;
        int type = sparse + 16 + 2 * 16;
        int msix = type + 16;
        int unknown = msix + 8;
        int end = unknown + 8 + 8;
        ByteBuffer b = FakeDeviceFile.regionReply(3, FLAGS, 0x4000, 3L << 40, sparse, end);
        b.putShort(sparse, (short) 1).putShort(sparse + 2, (short) 1).putInt(sparse + 4, type)
                .putInt(sparse + 8, 2).putLong(sparse + 16, 0).putLong(sparse + 24, 0x1000)
                .putLong(sparse + 32, 0x3000).putLong(sparse + 40, 0x1000);
        b.putShort(type, (short) 2).putShort(type + 2, (short) 1).putInt(type + 4, msix)
                .putInt(type + 8, 0x80008086).putInt(type + 12, 7);
        b.putShort(msix, (short) 3).putShort(msix + 2, (short) 1).putInt(msix + 4, unknown);
        b.putShort(unknown, (short) 42).putShort(unknown + 2, (short) 5).putInt(unknown + 4, 0)
                .putLong(unknown + 8, 0x0807060504030201L);
        return b.array();
    }

    @Test
    void retriesWithTheSizeTheKernelAsksForAndParsesTheWholeChain() {
        device.regionReplies.put(3, fullChain());
        RegionInfo info = IoctlDeviceOps.readRegionInfo(device, 3);
        assertThat(device.regionInfoCalls).as("first with 32 bytes, then with the size asked for").isEqualTo(2);
        assertThat(info.index()).isEqualTo(3);
        assertThat(info.size()).isEqualTo(0x4000);
        assertThat(info.offset()).isEqualTo(3L << 40);
        assertThat(info.sparseAreas()).contains(List.of(new RegionCapability.SparseArea(0, 0x1000),
                new RegionCapability.SparseArea(0x3000, 0x1000)));
        assertThat(info.type()).contains(new RegionCapability.Type(0x80008086, 7));
        assertThat(info.msixMappable()).isTrue();
        RegionCapability.Unknown unknown = (RegionCapability.Unknown) info.capabilities().get(3);
        assertThat(unknown.id()).isEqualTo(42);
        assertThat(unknown.version()).isEqualTo(5);
        assertThat(unknown.body()).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
    }

    @Test
    void aRegionWithoutCapabilitiesTakesOneCall() {
        device.regionReplies.put(0, FakeDeviceFile.regionReply(0, 7, 1 << 20, 0, 0, 32).array());
        RegionInfo info = IoctlDeviceOps.readRegionInfo(device, 0);
        assertThat(device.regionInfoCalls).isEqualTo(1);
        assertThat(info).isEqualTo(new RegionInfo(0, 7, 1 << 20, 0));
    }

    @Test
    void aCapabilityOutsideTheReplyIsRefused() {
        ByteBuffer b = FakeDeviceFile.regionReply(1, FLAGS, 0x1000, 0, 200, 48);
        device.regionReplies.put(1, b.array());
        assertThatThrownBy(() -> IoctlDeviceOps.readRegionInfo(device, 1)).isInstanceOf(BackendException.class)
                .hasMessageContaining("VFIO_DEVICE_GET_REGION_INFO").hasMessageContaining("offset 200");
    }

    @Test
    void aChainThatLoopsIsRefused() {
        ByteBuffer b = FakeDeviceFile.regionReply(1, FLAGS, 0x1000, 0, 32, 56);
        b.putShort(32, (short) 3).putInt(36, 40); // MSI-X mappable, next at 40
        b.putShort(40, (short) 3).putInt(44, 32); // ... which points back to 32
        device.regionReplies.put(1, b.array());
        assertThatThrownBy(() -> IoctlDeviceOps.readRegionInfo(device, 1)).isInstanceOf(BackendException.class)
                .hasMessageContaining("does not follow the previous one");
    }

    @Test
    void aCapabilityPointingAtItselfIsRefused() {
        ByteBuffer b = FakeDeviceFile.regionReply(1, FLAGS, 0x1000, 0, 32, 40);
        b.putShort(32, (short) 3).putInt(36, 32);
        device.regionReplies.put(1, b.array());
        assertThatThrownBy(() -> IoctlDeviceOps.readRegionInfo(device, 1)).isInstanceOf(BackendException.class);
    }

    @Test
    void aTruncatedSparseCapabilityIsRefused() {
        ByteBuffer b = FakeDeviceFile.regionReply(1, FLAGS, 0x1000, 0, 32, 64);
        b.putShort(32, (short) 1).putInt(36, 0).putInt(40, 100); // claims 100 areas, has room for 1
        device.regionReplies.put(1, b.array());
        assertThatThrownBy(() -> IoctlDeviceOps.readRegionInfo(device, 1)).isInstanceOf(BackendException.class)
                .hasMessageContaining("claims 100 areas");
    }

    @Test
    void aCapabilityOverlappingTheFixedPartIsRefused() {
        ByteBuffer b = FakeDeviceFile.regionReply(1, FLAGS, 0x1000, 0, 8, 48);
        device.regionReplies.put(1, b.array());
        assertThatThrownBy(() -> IoctlDeviceOps.readRegionInfo(device, 1)).isInstanceOf(BackendException.class);
    }

    @Test
    void anAbsurdSizeIsRefused() {
        ByteBuffer b = FakeDeviceFile.regionReply(1, FLAGS, 0x1000, 0, 0, 32);
        b.putInt(0, 2 << 20);
        device.regionReplies.put(1, b.array());
        assertThatThrownBy(() -> IoctlDeviceOps.readRegionInfo(device, 1)).isInstanceOf(BackendException.class)
                .hasMessageContaining("argsz");
    }

    @Test
    void aReplyThatKeepsGrowingEnds() {
        device.regionReplies.put(1, new byte[32]);
        device.growForever = true;
        assertThatThrownBy(() -> IoctlDeviceOps.readRegionInfo(device, 1)).isInstanceOf(BackendException.class)
                .hasMessageContaining("kept growing");
        assertThat(device.regionInfoCalls).isEqualTo(4);
    }

    @Test
    void aRegionTheDeviceLacksReadsAsEmptyButOtherErrorsAreReported() {
        assertThat(IoctlDeviceOps.readRegionInfoOrAbsent(device, 8)).isEqualTo(new RegionInfo(8, 0, 0, 0));
        device.failures.put(vfio.backend.ioctl.internal.abi.VfioAbi.VFIO_DEVICE_GET_REGION_INFO, 5);
        assertThatThrownBy(() -> IoctlDeviceOps.readRegionInfoOrAbsent(device, 8))
                .isInstanceOf(BackendException.class).hasMessageStartingWith("VFIO_DEVICE_GET_REGION_INFO failed with EIO");
    }
}
