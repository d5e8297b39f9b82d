package vfio.backend.apple.internal;

import vfio.core.dma.DmaMemoryBlock;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.IrqSet;
import vfio.api.device.Pci;
import vfio.backend.apple.dext.Selector;
import vfio.backend.apple.sim.EduModel;
import vfio.posix.MappedMemory;

/**
 * An edu driver's flow through the Apple backend's DeviceIoOps against the simulated dext with the
 * edu model: identification, liveness, factorial with its completion interrupt, DMA both ways with
 * the platform-chosen bus addresses, reset.
 */
class EduEndToEndTest {
    private SimRig rig;
    private AppleDeviceIoOps ops;

    @BeforeEach
    void open() throws Exception {
        rig = SimRig.edu(false, 250);
        ops = rig.open();
    }

    @AfterEach
    void close() {
        rig.close();
    }

    private long read(int offset, int width) {
        ByteBuffer b = ByteBuffer.allocate(width).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(Pci.REGION_BAR0, offset, b);
        b.flip();
        return width == 8 ? b.getLong() : b.getInt() & 0xffff_ffffL;
    }

    private void write(int offset, int width, long value) {
        ByteBuffer b = ByteBuffer.allocate(width).order(ByteOrder.LITTLE_ENDIAN);
        if (width == 8) {
            b.putLong(value);
        } else {
            b.putInt((int) value);
        }
        ops.regionWrite(Pci.REGION_BAR0, offset, b.flip(), false);
    }

    private void awaitInterrupt(TestSignal irq, int expectedStatus) throws InterruptedException {
        assertThat(irq.await(10)).as("edu interrupt 0x%x", expectedStatus).isTrue();
        assertThat(read(EduModel.REG_IRQ_STATUS, 4) & expectedStatus).isEqualTo(expectedStatus);
        write(EduModel.REG_IRQ_ACK, 4, expectedStatus);
        assertThat(read(EduModel.REG_IRQ_STATUS, 4) & expectedStatus).isZero();
    }

    @Test
    void identificationLivenessFactorialAndDma() throws Exception {
        // Config space says what the device is; BAR0 is the register file.
        ByteBuffer ids = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(Pci.REGION_CONFIG, 0, ids);
        assertThat(ids.flip().getInt()).isEqualTo(0x11e81234);
        assertThat(read(EduModel.REG_ID, 4)).isEqualTo(EduModel.ID);

        write(EduModel.REG_LIVENESS, 4, 0x12345678);
        assertThat(read(EduModel.REG_LIVENESS, 4)).isEqualTo(~0x12345678 & 0xffff_ffffL);

        TestSignal irq = new TestSignal();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, List.of(irq)));

        write(EduModel.REG_STATUS, 4, EduModel.STATUS_IRQ_ON_FACTORIAL);
        write(EduModel.REG_FACTORIAL, 4, 10);
        awaitInterrupt(irq, EduModel.IRQ_FACTORIAL);
        assertThat(read(EduModel.REG_STATUS, 4) & EduModel.STATUS_COMPUTING).isZero();
        assertThat(read(EduModel.REG_FACTORIAL, 4)).isEqualTo(3628800);

        write(EduModel.REG_IRQ_RAISE, 4, 0x40);
        awaitInterrupt(irq, 0x40);

        long page = MappedMemory.pageSize();
        try (DmaMemoryBlock out = DmaMemoryBlock.allocate("test-dma", page); DmaMemoryBlock in = DmaMemoryBlock.allocate("test-dma", page)) {
            long toDevice = ops.dmaMap(out, 0x100000, true, false);
            long fromDevice = ops.dmaMap(in, 0x200000, false, true);
            assertThat(toDevice).isNotEqualTo(0x100000);
            assertThat(fromDevice).isNotEqualTo(0x200000);
            ByteBuffer pattern = out.memory();
            for (int i = 0; i < 4096; i++) {
                pattern.put(i, (byte) (i * 7 + 3));
            }

            write(EduModel.REG_DMA_SRC, 8, toDevice);
            write(EduModel.REG_DMA_DST, 8, EduModel.DMA_BUFFER);
            write(EduModel.REG_DMA_COUNT, 8, 4096);
            write(EduModel.REG_DMA_CMD, 8, EduModel.DMA_START | EduModel.DMA_IRQ);
            awaitInterrupt(irq, EduModel.IRQ_DMA);
            assertThat(read(EduModel.REG_DMA_CMD, 8) & EduModel.DMA_START).isZero();

            write(EduModel.REG_DMA_SRC, 8, EduModel.DMA_BUFFER);
            write(EduModel.REG_DMA_DST, 8, fromDevice);
            write(EduModel.REG_DMA_COUNT, 8, 4096);
            write(EduModel.REG_DMA_CMD, 8, EduModel.DMA_START | EduModel.DMA_TO_RAM | EduModel.DMA_IRQ);
            awaitInterrupt(irq, EduModel.IRQ_DMA);

            byte[] sent = new byte[4096];
            byte[] received = new byte[4096];
            out.memory().get(sent);
            in.memory().get(received);
            assertThat(received).isEqualTo(sent);
            assertThat(((EduModel) rig.function().model()).dmaErrors()).isZero();

            ops.dmaUnmap(toDevice, page);
            ops.dmaUnmap(fromDevice, page);
        }
        // every BAR0 access went through the dext (BAR0 is not mappable in this configuration)
        assertThat(rig.calls(Selector.MMIO_READ)).isNotEmpty();
        assertThat(irq.count()).isEqualTo(4);
        assertThat(irq.await(0)).isFalse();
    }

    @Test
    void dmaToAnAddressThatWasNeverRegisteredFaultsInTheDevice() throws Exception {
        TestSignal irq = new TestSignal();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, List.of(irq)));
        write(EduModel.REG_DMA_SRC, 8, 0x100000); // an IOVA, not a bus address
        write(EduModel.REG_DMA_DST, 8, EduModel.DMA_BUFFER);
        write(EduModel.REG_DMA_COUNT, 8, 64);
        write(EduModel.REG_DMA_CMD, 8, EduModel.DMA_START | EduModel.DMA_IRQ);
        awaitInterrupt(irq, EduModel.IRQ_DMA);
        assertThat(((EduModel) rig.function().model()).dmaErrors()).isEqualTo(1);
    }

    @Test
    void resetReturnsTheModelToPowerOn() throws Exception {
        write(EduModel.REG_LIVENESS, 4, 1);
        write(EduModel.REG_STATUS, 4, EduModel.STATUS_IRQ_ON_FACTORIAL);
        ops.reset();
        assertThat(read(EduModel.REG_ID, 4)).isEqualTo(EduModel.ID);
        assertThat(read(EduModel.REG_LIVENESS, 4)).isZero();
        assertThat(read(EduModel.REG_STATUS, 4)).isZero();
    }
}
