package vfio.backend.ioctl.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vfio.backend.ioctl.internal.abi.VfioAbi.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.DmaMemory;
import vfio.api.backend.IrqSet;
import vfio.api.device.BackendException;
import vfio.api.device.NotSupportedException;
import vfio.backend.ioctl.internal.iommu.Attachment;
import vfio.backend.ioctl.internal.iommu.DmaSpace;
import vfio.posix.Errno;

/** The device operations' logic against a fake device file and address space. */
class IoctlDeviceOpsTest {
    private final FakeDeviceFile device = new FakeDeviceFile();
    private final List<String> dmaCalls = new ArrayList<>();
    private int released;
    private IoctlDeviceOps ops;

    @BeforeEach
    void open() {
        device.numRegions = 2;
        device.numIrqs = 3;
        device.regionReplies.put(0, FakeDeviceFile.regionReply(0, 7, 0x1000, 0, 0, 32).array());
        DmaSpace space = new DmaSpace() {
            @Override
            public long map(DmaMemory memory, long iova, boolean read, boolean write) {
                dmaCalls.add("map 0x" + Long.toHexString(iova));
                return iova;
            }

            @Override
            public void unmap(long iova, long size) {
                dmaCalls.add("unmap 0x" + Long.toHexString(iova));
            }

            @Override
            public boolean choosesIova() {
                return false;
            }

            @Override
            public String describe() {
                return "fake space";
            }
        };
        ops = IoctlDeviceOps.open("dev", new Attachment(device, space, "fake", () -> released++));
    }

    @Test
    void openReadsEveryRegionAndTreatsMissingOnesAsEmpty() {
        assertThat(ops.deviceInfo().numRegions()).isEqualTo(2);
        assertThat(ops.regionInfo(0).size()).isEqualTo(0x1000);
        assertThat(ops.regionInfo(1).size()).as("EINVAL from the kernel").isZero();
        assertThatThrownBy(() -> ops.regionInfo(2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void setIrqsHandsTheEncodedStructToTheKernel() {
        ops.setIrqs(IrqSet.one(1, IrqSet.Action.TRIGGER, 0));
        assertThat(device.calls).containsExactly("VFIO_DEVICE_SET_IRQS");
        ByteBuffer arg = ByteBuffer.wrap(device.arguments.get(0)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(arg.getInt(0)).isEqualTo(20);
        assertThat(arg.getInt(4)).isEqualTo(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
        assertThat(arg.getInt(8)).isEqualTo(1);
    }

    @Test
    void aRefusedIoctlNamesTheIoctlAndTheErrno() {
        device.failures.put(VFIO_DEVICE_SET_IRQS, Errno.EINVAL);
        assertThatThrownBy(() -> ops.setIrqs(IrqSet.one(2, IrqSet.Action.MASK, 0))).isInstanceOfSatisfying(BackendException.class, e -> {
            assertThat(e.operation()).isEqualTo("VFIO_DEVICE_SET_IRQS");
            assertThat(e.errnoName()).isEqualTo("EINVAL");
            assertThat(e.getMessage()).contains("IRQ index 2 of dev");
        });
    }

    @Test
    void disablingAnIndexTheKernelSaysIsNotEnabledSucceedsButABadIndexIsRefused() {
        device.failures.put(VFIO_DEVICE_SET_IRQS, Errno.EINVAL); // what Linux answers for a never-enabled index
        ops.setIrqs(IrqSet.disable(2));
        assertThatThrownBy(() -> ops.setIrqs(IrqSet.disable(9))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("IRQ index 9");
    }

    @Test
    void featureUnknownToTheKernelIsNotSupported() {
        device.failures.put(VFIO_DEVICE_FEATURE, Errno.ENOTTY);
        assertThatThrownBy(() -> ops.deviceFeature(DeviceIoOps.FEATURE_PROBE | DeviceIoOps.FEATURE_GET | 6, new byte[0]))
                .isInstanceOf(NotSupportedException.class).hasMessageContaining("feature 6");
    }

    @Test
    void featureGetReturnsTheBytesTheKernelFilledAndSetSendsThePayload() {
        byte[] got = ops.deviceFeature(DeviceIoOps.FEATURE_GET | 1, new byte[8]);
        assertThat(got).hasSize(8);
        ops.deviceFeature(DeviceIoOps.FEATURE_SET | 5, new byte[] {9, 8});
        ByteBuffer arg = ByteBuffer.wrap(device.arguments.get(1)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(arg.getInt(0)).as("argsz").isEqualTo(10);
        assertThat(arg.getInt(4)).isEqualTo(DeviceIoOps.FEATURE_SET | 5);
        assertThat(new byte[] {arg.get(8), arg.get(9)}).containsExactly(9, 8);
    }

    @Test
    void featuresThatReturnDescriptorsAreRefusedBeforeTheKernelSeesThem() {
        assertThatThrownBy(() -> ops.deviceFeature(DeviceIoOps.FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, new byte[16]))
                .isInstanceOf(NotSupportedException.class).hasMessageContaining("file descriptor");
        assertThat(device.calls).isEmpty();
    }

    @Test
    void resetWithoutAResetMethodIsNotSupported() {
        assertThatThrownBy(ops::reset).isInstanceOf(NotSupportedException.class).hasMessageContaining("cannot be reset");
        assertThat(device.calls).isEmpty();
    }

    @Test
    void aReadThatReturnsNothingIsAnErrorNotALoop() {
        assertThatThrownBy(() -> ops.regionRead(0, 0, ByteBuffer.allocate(4))).isInstanceOf(BackendException.class)
                .hasMessageContaining("region 0 of dev ended");
    }

    @Test
    void closeUnmapsThisDevicesDmaClosesTheFileAndReleasesOnce() throws Exception {
        DmaMemory memory = new DmaMemory() {
            public long address() {
                return 0x10000;
            }

            public long size() {
                return 0x1000;
            }

            public int fd() {
                return -1;
            }

            public long fdOffset() {
                return 0;
            }

            public ByteBuffer memory() {
                return ByteBuffer.allocate(0x1000);
            }
        };
        assertThat(ops.dmaMap(memory, 0x200000, true, true)).isEqualTo(0x200000);
        ops.dmaMap(memory, 0x300000, true, false);
        ops.dmaUnmap(0x300000, 0x1000);
        ops.close();
        ops.close();
        assertThat(dmaCalls).containsExactly("map 0x200000", "map 0x300000", "unmap 0x300000", "unmap 0x200000");
        assertThat(device.closed).isTrue();
        assertThat(released).isEqualTo(1);
    }
}
