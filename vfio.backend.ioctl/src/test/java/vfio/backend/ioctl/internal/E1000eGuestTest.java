package vfio.backend.ioctl.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static vfio.backend.ioctl.internal.GuestSupport.*;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.backend.MappedArea;
import vfio.api.device.IrqInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.MappedMemory;

/**
 * QEMU's e1000e (8086:10d3) through the backend SPI: MSI-X with five vectors, function reset, and
 * the capability chain of its MSI-X BAR (BAR3).
 */
@Tag("guest")
class E1000eGuestTest {
    private static final int MSIX_BAR = 3;
    private static final int STATUS = 0x08;
    /** The MSI-X pending-bit array in BAR3, outside the vector table the kernel shields from pread. */
    private static final int MSIX_PBA = 0x2000;

    private DeviceIoOps ops;

    @BeforeEach
    void open() {
        ops = GuestSupport.open(IoctlBackendFactory.system(), "e1000e", address(E1000E_VENDOR, E1000E_DEVICE));
    }

    @AfterEach
    void close() {
        if (ops != null) {
            ops.close();
        }
    }

    @Test
    void msixHasFiveVectorsEachRoutedToItsOwnEventfd() throws Exception {
        IrqInfo msix = ops.irqInfo(Pci.IRQ_MSIX);
        assertThat(msix.count()).isEqualTo(5);
        assertThat(msix.has(IrqInfo.FLAG_EVENTFD)).isTrue();
        List<TestIrqSignal> signals = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                signals.add(new TestIrqSignal());
            }
            ops.setIrqs(IrqSet.enable(Pci.IRQ_MSIX, new ArrayList<IrqSignal>(signals)));
            // Fire vector 3 from software: only its eventfd is signalled.
            ops.setIrqs(IrqSet.one(Pci.IRQ_MSIX, IrqSet.Action.TRIGGER, 3));
            assertThat(signals.get(3).await(10_000)).isEqualTo(1);
            for (int i : new int[] {0, 1, 2, 4}) {
                assertThat(signals.get(i).await(0)).as("vector %d", i).isZero();
            }
            // Fire vectors 0 and 4 with a bool array (VFIO_IRQ_SET_DATA_BOOL).
            ops.setIrqs(new IrqSet(Pci.IRQ_MSIX, IrqSet.Action.TRIGGER, 0, 5,
                    new IrqSet.Data.Bools(new boolean[] {true, false, false, false, true})));
            assertThat(signals.get(0).await(10_000)).isEqualTo(1);
            assertThat(signals.get(4).await(10_000)).isEqualTo(1);
            assertThat(signals.get(1).await(0) + signals.get(2).await(0) + signals.get(3).await(0)).isZero();
        } finally {
            ops.setIrqs(IrqSet.disable(Pci.IRQ_MSIX));
            signals.forEach(TestIrqSignal::close);
        }
    }

    @Test
    void resetWorksAndTheFunctionStillAnswers() throws Exception {
        assertThat(ops.deviceInfo().canReset()).isTrue();
        String bdf = address(E1000E_VENDOR, E1000E_DEVICE).substring(4);
        Path method = Path.of("/sys/bus/pci/devices", bdf, "reset_method");
        System.out.println("e1000e reset methods: "
                + (Files.exists(method) ? Files.readString(method).trim() : "?"));
        int status = read32(ops, 0, STATUS);
        ops.reset();
        ops.reset();
        assertThat(read32(ops, 0, STATUS)).as("device status after reset").isEqualTo(status);
        assertThat(ops.irqInfo(Pci.IRQ_MSIX).count()).isEqualTo(5);
    }

    /**
     * Linux 6.1's vfio-pci reports the MSI-X BAR as mappable as a whole (capability MSIX_MAPPABLE)
     * instead of carving the table out with a sparse-mmap capability, as kernels before 4.16 did; the
     * sparse-mmap parsing is covered by the unit tests with hand-built chains. Whatever the kernel
     * reports, the chain must be parsed and the mappable areas must map.
     */
    @Test
    void msixBarCapabilityChainIsParsedAndItsAreasMap() throws Exception {
        RegionInfo bar = ops.regionInfo(MSIX_BAR);
        System.out.println("e1000e BAR3: " + bar);
        assertThat(bar.has(RegionInfo.FLAG_MMAP | RegionInfo.FLAG_CAPS)).isTrue();
        assertThat(bar.msixMappable() || bar.sparseAreas().isPresent())
                .as("MSI-X BAR has MSIX_MAPPABLE or sparse-mmap").isTrue();
        List<SparseArea> areas = bar.sparseAreas().orElse(List.of(new SparseArea(0, bar.size())))
                .stream().filter(a -> a.size() > 0).toList();
        List<MappedArea> mapped = ops.regionMap(bar, areas);
        assertThat(mapped).hasSameSizeAs(areas);
        List<MappedMemory> memories = mapped.stream().map(a -> MappedMemory.adopt(a.address(), a.size())).toList();
        try {
            // Outside the MSI-X vector table the mapping reads as pread does.
            byte[] viaMap = new byte[16];
            memories.get(0).view().get(MSIX_PBA - (int) mapped.get(0).offset(), viaMap);
            ByteBuffer viaRead = ByteBuffer.allocate(16);
            ops.regionRead(MSIX_BAR, MSIX_PBA, viaRead);
            assertThat(Arrays.equals(viaMap, viaRead.array())).isTrue();
        } finally {
            for (MappedMemory m : memories) {
                m.revoke();
            }
            ops.regionUnmap(MSIX_BAR, mapped);
            for (MappedMemory m : memories) {
                m.unmap();
            }
        }
    }
}
