package vfio.tck;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import vfio.api.backend.DeviceIoOps;
import vfio.api.device.DeviceInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionInfo;

/**
 * {@link Hooks} for the devices this project tests with, recognised by their PCI vendor and device
 * IDs: the memory device of {@code vfio.backend.memory} and QEMU's {@code edu} device (as QEMU emulates
 * it and as {@code vfio.emulator.edu} serves it over vfio-user).
 *
 * <p>Stateless. The hooks access the device only through the {@link DeviceIoOps} the kit passes
 * them, on the kit's thread; they throw what the backend throws.
 */
public final class DeviceProfiles {
    /** PCI IDs (device &lt;&lt; 16 | vendor) of the memory backend's device. */
    public static final int MEMORY_DEVICE_ID = 0xbeef_1234;
    /** PCI IDs (device &lt;&lt; 16 | vendor) of QEMU's edu device. */
    public static final int EDU_ID = 0x11e8_1234;

    private static final int MEMORY_BAR1 = 1;
    private static final int MEMORY_REG_FIRE = 0x00;
    private static final int MEMORY_REG_DMA_ADDRESS = 0x10;
    private static final int MEMORY_REG_DMA_LENGTH = 0x18;
    private static final int MEMORY_REG_DMA_START = 0x20;
    private static final int MEMORY_MSI_VECTORS = 4;

    private static final int EDU_REG_ID = 0x00;
    private static final int EDU_REG_IRQ_RAISE = 0x60;
    private static final int EDU_REG_IRQ_ACK = 0x64;
    private static final int EDU_REG_DMA_SRC = 0x80;
    private static final int EDU_REG_DMA_DST = 0x88;
    private static final int EDU_REG_DMA_COUNT = 0x90;
    private static final int EDU_REG_DMA_CMD = 0x98;
    private static final long EDU_DMA_BUFFER = 0x40000;
    private static final int EDU_DMA_START = 1;
    private static final int EDU_DMA_TO_RAM = 2;
    private static final int PCI_COMMAND = 0x04;
    private static final int COMMAND_MEMORY_AND_BUS_MASTER = 0x6;

    private DeviceProfiles() {
    }

    /**
     * The memory device ({@code memory:NAME}): BAR0 is 64 KiB of memory; BAR1 register 0x00 fires MSI
     * vector {@code v} when {@code v} is written; its DMA engine copies BAR0 to the address at 0x10;
     * an interrupt raised while masked is dropped.
     */
    public static Hooks memoryDevice() {
        return Hooks.none()
                .withMemory(Pci.REGION_BAR0, 0, 0x10000)
                .withKnownValue(Pci.REGION_CONFIG, 0, 4, MEMORY_DEVICE_ID)
                .withKnownValue(Pci.REGION_CONFIG, 0, 2, 0x1234)
                .withKnownValue(Pci.REGION_CONFIG, 2, 2, 0xbeef)
                .withKnownValue(Pci.REGION_CONFIG, 8, 4, 0xff000001L)
                .withIrqRaiser((ops, index, vector) -> {
                    if (index != Pci.IRQ_MSI || vector >= MEMORY_MSI_VECTORS) {
                        return false;
                    }
                    write(ops, MEMORY_BAR1, MEMORY_REG_FIRE, 4, vector);
                    return true;
                })
                .withDmaWriter((ops, targetIova, data, sourceIova) -> {
                    ops.regionWrite(Pci.REGION_BAR0, 0, ByteBuffer.wrap(data), false);
                    write(ops, MEMORY_BAR1, MEMORY_REG_DMA_ADDRESS, 8, targetIova);
                    write(ops, MEMORY_BAR1, MEMORY_REG_DMA_LENGTH, 8, data.length);
                    write(ops, MEMORY_BAR1, MEMORY_REG_DMA_START, 4, 1);
                })
                .withMaskedInterrupts(Hooks.MaskedInterrupts.DROPPED);
    }

    /**
     * QEMU's edu device: the identification register (0x010000ed); the DMA source, destination and
     * count registers as 8-byte scratch registers; the interrupt raise register (vector 0 of INTx,
     * MSI or MSI-X, whichever is enabled; the hook turns on bus mastering, without which an MSI is
     * dropped); the DMA engine (RAM to its buffer and back). Its masked-interrupt semantics depend on
     * the transport and are only noted.
     */
    public static Hooks edu() {
        return Hooks.none()
                .withKnownValue(Pci.REGION_BAR0, EDU_REG_ID, 4, 0x010000edL)
                .withKnownValue(Pci.REGION_CONFIG, 0, 4, EDU_ID)
                // The DMA address and count registers, as 4-byte registers: Linux 6.1's vfio-pci splits an
                // 8-byte pread/pwrite into two 4-byte ones and edu ignores the upper half (0x84, ...).
                .withScratch(new Hooks.Scratch(Pci.REGION_BAR0, EDU_REG_DMA_SRC, 4, 4))
                .withScratch(new Hooks.Scratch(Pci.REGION_BAR0, EDU_REG_DMA_SRC + 8, 4, 4))
                .withScratch(new Hooks.Scratch(Pci.REGION_BAR0, EDU_REG_DMA_SRC + 16, 4, 4))
                .withIrqRaiser(new Hooks.IrqRaiser() {
                    @Override
                    public boolean raise(DeviceIoOps ops, int index, int vector) {
                        if (index > Pci.IRQ_MSIX || vector != 0) {
                            return false;
                        }
                        enableBusMaster(ops); // an MSI is a memory write: without bus mastering it is dropped
                        lower(ops, index, vector);
                        write(ops, Pci.REGION_BAR0, EDU_REG_IRQ_RAISE, 4, 1);
                        return true;
                    }

                    @Override
                    public void lower(DeviceIoOps ops, int index, int vector) {
                        write(ops, Pci.REGION_BAR0, EDU_REG_IRQ_ACK, 4, 0xffffffffL);
                    }
                })
                .withDmaWriter((ops, targetIova, data, sourceIova) -> {
                    enableBusMaster(ops);
                    eduDma(ops, sourceIova, EDU_DMA_BUFFER, data.length, EDU_DMA_START);
                    eduDma(ops, EDU_DMA_BUFFER, targetIova, data.length, EDU_DMA_START | EDU_DMA_TO_RAM);
                });
    }

    /**
     * Recognises a device by the PCI IDs in its configuration space.
     *
     * @param ops an open device
     * @return the profile of a known device; empty for another or a non-PCI device
     */
    public static Optional<Hooks> detect(DeviceIoOps ops) {
        DeviceInfo info = ops.deviceInfo();
        if (!info.isPci() || info.numRegions() <= Pci.REGION_CONFIG
                || !ops.regionInfo(Pci.REGION_CONFIG).has(RegionInfo.FLAG_READ)) {
            return Optional.empty();
        }
        int ids = (int) read(ops, Pci.REGION_CONFIG, 0, 4);
        return switch (ids) {
            case MEMORY_DEVICE_ID -> Optional.of(memoryDevice());
            case EDU_ID -> Optional.of(edu());
            default -> Optional.empty();
        };
    }

    private static void eduDma(DeviceIoOps ops, long src, long dst, int count, int cmd) throws InterruptedException {
        write(ops, Pci.REGION_BAR0, EDU_REG_DMA_SRC, 8, src);
        write(ops, Pci.REGION_BAR0, EDU_REG_DMA_DST, 8, dst);
        write(ops, Pci.REGION_BAR0, EDU_REG_DMA_COUNT, 8, count);
        write(ops, Pci.REGION_BAR0, EDU_REG_DMA_CMD, 8, cmd);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while ((read(ops, Pci.REGION_BAR0, EDU_REG_DMA_CMD, 8) & EDU_DMA_START) != 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the edu DMA engine did not finish within 5 s");
            }
            Thread.sleep(1);
        }
    }

    private static void enableBusMaster(DeviceIoOps ops) {
        long command = read(ops, Pci.REGION_CONFIG, PCI_COMMAND, 2);
        write(ops, Pci.REGION_CONFIG, PCI_COMMAND, 2, command | COMMAND_MEMORY_AND_BUS_MASTER);
    }

    private static void write(DeviceIoOps ops, int region, long offset, int width, long value) {
        ByteBuffer b = ByteBuffer.allocate(width).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < width; i++) {
            b.put((byte) (value >>> (8 * i)));
        }
        ops.regionWrite(region, offset, b.flip(), false);
    }

    private static long read(DeviceIoOps ops, int region, long offset, int width) {
        ByteBuffer b = ByteBuffer.allocate(width);
        ops.regionRead(region, offset, b);
        long v = 0;
        for (int i = width - 1; i >= 0; i--) {
            v = (v << 8) | (b.get(i) & 0xff);
        }
        return v;
    }
}
