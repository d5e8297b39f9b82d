package vfio.backend.apple.internal;

import vfio.core.dma.DmaMemoryBlock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import vfio.api.device.BackendException;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;
import vfio.backend.apple.sim.SimulatedFunction;
import vfio.posix.MappedMemory;

/** DMA through RegisterDMARegion: the platform chooses the bus address. */
class DmaTest {
    private SimRig rig;
    private AppleDeviceIoOps ops;
    private DmaMemoryBlock memory;
    private final long page = MappedMemory.pageSize();

    @BeforeEach
    void open() throws Exception {
        rig = SimRig.edu(false, 1000);
        ops = rig.open();
        memory = DmaMemoryBlock.allocate("test-dma", 4 * page);
    }

    @AfterEach
    void close() throws Exception {
        rig.close();
        memory.close();
    }

    @Test
    void theBusAddressComesFromTheDextAndDiffersFromTheRequestedIova() throws Exception {
        long iova = 0x10000;
        long bus = ops.dmaMap(memory, iova, true, true);
        assertThat(bus).isNotEqualTo(iova).isGreaterThanOrEqualTo(SimulatedFunction.DMA_BUS_BASE);
        assertThat(rig.function().dmaKeys()).as("the IOVA is only the registration's key").containsExactly(iova);
        assertThat(rig.calls(Selector.REGISTER_DMA_REGION)).singleElement()
                .satisfies(c -> assertThat(c.args()).containsExactly(iova, memory.address(), memory.size()));

        memory.memory().putLong(8, 0x0123456789abcdefL);
        assertThat(ops.session().dext().probeDmaRegion(iova, 8)).as("the dext reaches our memory").isEqualTo(0x0123456789abcdefL);

        ops.dmaUnmap(bus, memory.size());
        assertThat(rig.function().dmaKeys()).isEmpty();
        assertThat(rig.calls(Selector.UNREGISTER_DMA_REGION)).singleElement()
                .satisfies(c -> assertThat(c.arg(0)).isEqualTo(iova));
    }

    @Test
    void theSameIovaTwiceGetsTwoKeysAndTwoBusAddresses() throws Exception {
        try (DmaMemoryBlock other = DmaMemoryBlock.allocate("test-dma", page)) {
            long a = ops.dmaMap(memory, 0, true, true);
            long b = ops.dmaMap(other, 0, true, true);
            assertThat(a).isNotEqualTo(b);
            assertThat(rig.function().dmaKeys()).hasSize(2).contains(0L);
            ops.dmaUnmap(b, page);
            ops.dmaUnmap(a, memory.size());
            assertThat(rig.function().dmaKeys()).isEmpty();
        }
    }

    @Test
    void unmapNeedsTheReturnedIovaAndTheWholeSize() {
        long bus = ops.dmaMap(memory, 0x10000, true, true);
        assertThatThrownBy(() -> ops.dmaUnmap(0x10000, memory.size())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no DMA mapping");
        assertThatThrownBy(() -> ops.dmaUnmap(bus, page)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("whole regions");
        assertThat(rig.function().dmaKeys()).hasSize(1);
    }

    @Test
    void aRegistrationInSeveralBusSegmentsIsUndoneAndRefused() {
        rig.sim.splitDmaSegments(true);
        assertThatThrownBy(() -> ops.dmaMap(memory, 0x10000, true, true)).isInstanceOf(BackendException.class)
                .hasMessageContaining("2 bus segments");
        assertThat(rig.function().dmaKeys()).isEmpty();
        rig.sim.splitDmaSegments(false);
        assertThat(ops.dmaMap(memory, 0x10000, true, true)).isPositive(); // the key was released
    }

    @Test
    void aRefusedRegistrationIsABackendExceptionWithAnErrno() {
        rig.sim.failNext(Selector.REGISTER_DMA_REGION, KernReturn.NO_RESOURCES);
        assertThatThrownBy(() -> ops.dmaMap(memory, 0x10000, true, true)).isInstanceOf(BackendException.class)
                .satisfies(e -> {
                    BackendException b = (BackendException) e;
                    assertThat(b.errnoName()).isEqualTo("ENOMEM");
                    assertThat(b.operation()).isEqualTo("RegisterDMARegion");
                    assertThat(b.getMessage()).contains("kIOReturnNoResources", "1.5 GB");
                });
    }

    @Test
    void closeUnregistersWhatIsLeft() throws Exception {
        ops.dmaMap(memory, 0x10000, true, true);
        try (DmaMemoryBlock other = DmaMemoryBlock.allocate("test-dma", page)) {
            ops.dmaMap(other, 0x20000, true, true);
            ops.close();
            assertThat(rig.function().dmaKeys()).isEmpty();
        }
    }
}
