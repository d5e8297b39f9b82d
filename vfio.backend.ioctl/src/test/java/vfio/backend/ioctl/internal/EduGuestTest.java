package vfio.backend.ioctl.internal;

import vfio.core.dma.DmaMemoryBlock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vfio.backend.ioctl.internal.GuestSupport.*;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.backend.MappedArea;
import vfio.api.backend.Match;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.MappedMemory;

/**
 * QEMU's {@code edu} device (1234:11e8) through the backend SPI alone, against the real vfio-pci
 * driver. Registers: 0x00 id, 0x04 liveness (reads back the inverse), 0x08 factorial, 0x20 status,
 * 0x24 interrupt status, 0x60 raise interrupt, 0x64 acknowledge, 0x80-0x98 DMA engine (28-bit
 * addresses, internal buffer at 0x40000, one 100 ms virtual timer per transfer).
 */
@Tag("guest")
class EduGuestTest {
    private static final int BAR0 = Pci.REGION_BAR0;
    private static final int EDU_ID = 0x010000ed;
    private static final long EDU_BUFFER = 0x40000;

    private IoctlBackendFactory factory;
    private DeviceIoOps ops;
    private String address;

    @BeforeEach
    void open() {
        address = address(EDU_VENDOR, EDU_DEVICE);
        factory = IoctlBackendFactory.system();
        ops = GuestSupport.open(factory, "edu", address);
    }

    @AfterEach
    void close() {
        if (ops != null) {
            ops.close();
        }
    }

    @Test
    void matchSaysWhichApiItWillUse() {
        Match m = factory.match(address);
        assertThat(m.matches()).as(m.reason()).isTrue();
        System.out.println("match " + address + ": " + m.reason());
        System.out.println("open: " + ((IoctlDeviceOps) ops).describe());
        assertThat(m.reason()).containsAnyOf("iommufd", "legacy group API");
    }

    @Test
    void deviceInfoDescribesAPciDeviceWithNineRegions() {
        assertThat(ops.deviceInfo().isPci()).isTrue();
        assertThat(ops.deviceInfo().numRegions()).isGreaterThanOrEqualTo(Pci.NUM_REGIONS);
        assertThat(ops.deviceInfo().numIrqs()).isGreaterThanOrEqualTo(Pci.NUM_IRQS);
        RegionInfo bar0 = ops.regionInfo(BAR0);
        assertThat(bar0.size()).isEqualTo(1 << 20);
        assertThat(bar0.has(RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE | RegionInfo.FLAG_MMAP)).isTrue();
        assertThat(ops.capabilities()).contains(BackendCapability.REGION_MAP, BackendCapability.DMA,
                BackendCapability.IRQ_SIGNAL_FD);
    }

    @Test
    void idThroughPread() {
        assertThat(read32(ops, BAR0, 0x00)).isEqualTo(EDU_ID);
    }

    @Test
    void idThroughTheMapping() throws Exception {
        RegionInfo bar0 = ops.regionInfo(BAR0);
        List<MappedArea> areas = ops.regionMap(bar0, List.of(new SparseArea(0, bar0.size())));
        assertThat(areas).hasSize(1);
        MappedMemory m = MappedMemory.adopt(areas.get(0).address(), areas.get(0).size());
        try {
            assertThat(m.view().getInt(0)).isEqualTo(EDU_ID);
            // A store through the mapping reaches the device: liveness answers with the inverse.
            m.view().putInt(0x04, 0x12345678);
            assertThat(m.view().getInt(0x04)).isEqualTo(~0x12345678);
            String dmaBuf = ((IoctlDeviceOps) ops).dmaBufUnavailable();
            System.out.println("dma-buf export of BAR0: " + (dmaBuf.isEmpty() ? "exported" : dmaBuf));
            assertThat(dmaBuf.isEmpty()).isEqualTo(((IoctlDeviceOps) ops).dmaBufDescriptor(BAR0).isPresent());
        } finally {
            // What the core does: revoke, let the backend release, then unmap.
            m.revoke();
            ops.regionUnmap(BAR0, areas);
            m.unmap();
        }
        assertThat(((IoctlDeviceOps) ops).dmaBufDescriptor(BAR0)).isEmpty();
    }

    @Test
    void livenessReadsBackTheInverse() {
        for (int v : new int[] {0, 0xdeadbeef, 0x7fffffff}) {
            write32(ops, BAR0, 0x04, v);
            assertThat(read32(ops, BAR0, 0x04)).isEqualTo(~v);
        }
    }

    @Test
    void factorialThroughRegisters() throws Exception {
        write32(ops, BAR0, 0x08, 10);
        assertThat(await(() -> (read32(ops, BAR0, 0x20) & 1) == 0, Duration.ofSeconds(10)))
                .as("factorial finished").isTrue();
        assertThat(read32(ops, BAR0, 0x08)).isEqualTo(3628800);
    }

    @Test
    void msiReachesTheEventfd() throws Exception {
        IrqInfo msi = ops.irqInfo(Pci.IRQ_MSI);
        assertThat(msi.count()).isEqualTo(1);
        assertThat(msi.has(IrqInfo.FLAG_EVENTFD)).isTrue();
        enableBusMaster(ops);
        try (TestIrqSignal signal = new TestIrqSignal()) {
            ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, List.of(signal)));
            try {
                write32(ops, BAR0, 0x60, 0x1);
                assertThat(signal.await(10_000)).as("MSI within 10 s").isEqualTo(1);
                assertThat(read32(ops, BAR0, 0x24)).isEqualTo(0x1);
                write32(ops, BAR0, 0x64, 0x1);
                assertThat(read32(ops, BAR0, 0x24)).isZero();

                // Triggering the vector from software (VFIO_IRQ_SET_DATA_NONE | ACTION_TRIGGER).
                ops.setIrqs(IrqSet.one(Pci.IRQ_MSI, IrqSet.Action.TRIGGER, 0));
                assertThat(signal.await(10_000)).as("software trigger").isEqualTo(1);
            } finally {
                ops.setIrqs(IrqSet.disable(Pci.IRQ_MSI));
            }
            // Disabled: a raised interrupt no longer reaches the eventfd.
            write32(ops, BAR0, 0x60, 0x2);
            assertThat(signal.await(300)).isZero();
            write32(ops, BAR0, 0x64, 0x2);
        }
    }

    @Test
    void intxIsAutomaskedAndUnmasked() throws Exception {
        IrqInfo intx = ops.irqInfo(Pci.IRQ_INTX);
        assertThat(intx.count()).isEqualTo(1);
        assertThat(intx.has(IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE | IrqInfo.FLAG_AUTOMASKED)).isTrue();
        try (TestIrqSignal signal = new TestIrqSignal()) {
            ops.setIrqs(IrqSet.enable(Pci.IRQ_INTX, List.of(signal)));
            try {
                write32(ops, BAR0, 0x60, 0x1);
                assertThat(signal.await(10_000)).as("INTx").isEqualTo(1);
                // The kernel masked the line when it fired: acknowledge, raise again, nothing comes...
                write32(ops, BAR0, 0x64, 0x1);
                write32(ops, BAR0, 0x60, 0x2);
                assertThat(signal.await(300)).as("while automasked").isZero();
                // ...until the line is unmasked, when the still-pending interrupt arrives.
                ops.setIrqs(IrqSet.one(Pci.IRQ_INTX, IrqSet.Action.UNMASK, 0));
                assertThat(signal.await(10_000)).as("after unmask").isEqualTo(1);
                write32(ops, BAR0, 0x64, 0x2);
                ops.setIrqs(IrqSet.one(Pci.IRQ_INTX, IrqSet.Action.UNMASK, 0));
                // An explicit mask holds a new interrupt back the same way.
                ops.setIrqs(IrqSet.one(Pci.IRQ_INTX, IrqSet.Action.MASK, 0));
                write32(ops, BAR0, 0x60, 0x4);
                assertThat(signal.await(300)).as("while masked").isZero();
                ops.setIrqs(IrqSet.one(Pci.IRQ_INTX, IrqSet.Action.UNMASK, 0));
                assertThat(signal.await(10_000)).as("after explicit unmask").isEqualTo(1);
                write32(ops, BAR0, 0x64, 0x4);
            } finally {
                ops.setIrqs(IrqSet.disable(Pci.IRQ_INTX));
            }
        }
    }

    @Test
    void deviceFeatureProbeAnswersOrSaysNotSupported() {
        // LOW_POWER_ENTRY (3) exists since Linux 6.0; the PCI VF token (0) only on SR-IOV devices.
        assertThat(ops.deviceFeature(DeviceIoOps.FEATURE_PROBE | DeviceIoOps.FEATURE_SET | 3, new byte[0])).isEmpty();
        assertThatThrownBy(
                () -> ops.deviceFeature(DeviceIoOps.FEATURE_PROBE | DeviceIoOps.FEATURE_SET, new byte[16]))
                .isInstanceOf(NotSupportedException.class).hasMessageContaining("ENOTTY");
    }

    @Test
    void dmaThroughTheIommuRoundTrips() throws Exception {
        enableBusMaster(ops);
        try (DmaMemoryBlock memory = DmaMemoryBlock.allocate("test-dma", MappedMemory.pageSize())) {
            byte[] pattern = new byte[1024];
            for (int i = 0; i < pattern.length; i++) {
                pattern[i] = (byte) (i * 7 + 3);
            }
            ByteBuffer view = memory.memory();
            view.put(0, pattern);
            long iova = ops.dmaMap(memory, 0x100000, true, true);
            if (!noIommuMode()) {
                // Without an IOMMU the "IOVA" is the physical address (the rig widens edu's DMA mask).
                assertThat(iova).as("edu addresses 28 bits").isLessThan(1L << 28);
            }
            try {
                // RAM -> edu buffer, then edu buffer -> RAM 2 KiB further on.
                dma(iova, EDU_BUFFER, pattern.length, 0x1);
                dma(EDU_BUFFER, iova + 2048, pattern.length, 0x1 | 0x2);
                byte[] back = new byte[pattern.length];
                view.get(2048, back);
                assertThat(Arrays.equals(back, pattern)).as("data came back through the IOMMU").isTrue();
            } finally {
                ops.dmaUnmap(iova, memory.size());
            }
        }
    }

    private void dma(long src, long dst, int count, int command) throws InterruptedException {
        // 4-byte accesses: Linux 6.1's vfio-pci splits 8-byte ones, and edu takes the low half as the whole.
        write32(ops, BAR0, 0x80, (int) src);
        write32(ops, BAR0, 0x88, (int) dst);
        write32(ops, BAR0, 0x90, count);
        write32(ops, BAR0, 0x98, command);
        assertThat(await(() -> (read32(ops, BAR0, 0x98) & 1) == 0, Duration.ofSeconds(20)))
                .as("DMA finished").isTrue();
    }

    @Test
    void resetIsRefusedOrWorksAsTheKernelReports() {
        if (ops.deviceInfo().canReset()) {
            ops.reset();
            assertThat(read32(ops, BAR0, 0x00)).isEqualTo(EDU_ID);
        } else {
            assertThatThrownBy(ops::reset).isInstanceOf(NotSupportedException.class)
                    .hasMessageContaining("cannot be reset");
        }
    }
}
