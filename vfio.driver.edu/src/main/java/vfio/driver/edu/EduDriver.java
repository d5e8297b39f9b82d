package vfio.driver.edu;

import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import vfio.api.device.Device;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.DmaBuffer;
import vfio.api.device.Irq;
import vfio.api.device.Pci;
import vfio.api.device.Region;

/**
 * Drives one edu device (vendor 0x1234, device 0x11e8): identification, liveness check, factorial
 * with its completion interrupt, and the DMA engine. Register map (QEMU {@code hw/misc/edu.c}):
 * BAR0 0x00 id, 0x04 liveness, 0x08 factorial, 0x20 status, 0x24 interrupt status, 0x60 raise,
 * 0x64 acknowledge, 0x80/0x88/0x90/0x98 DMA source, destination, count, command; registers below
 * 0x80 take 4-byte accesses only.
 *
 * <p><b>Rebinds:</b> a backend swap may reset the device. Each operation re-does the set-up if the
 * device was rebound since, and fails with {@link DeviceUnavailableException} if it was rebound
 * during the operation (a result read from a reset device would be wrong); run it again.
 *
 * <p><b>Threading:</b> one operation at a time (the device has one factorial unit and one DMA
 * engine); methods are synchronized. Interrupts arrive on the core's dispatcher thread.
 *
 * <p><b>Ownership:</b> the driver enables the device's interrupt in {@link #open} and disables it in
 * {@link #close}; it does not own the {@link Device}.
 */
public final class EduDriver implements AutoCloseable {
    /** PCI vendor and device id of edu, as read from config space offset 0. */
    public static final int PCI_ID = 0x11e8_1234;
    /** Value of the identification register: major 1, minor 0, 0xed. */
    public static final int ID = 0x0100_00ed;
    /** Where the device's internal DMA buffer starts in its own address space. */
    public static final long EDU_DMA_BUFFER = 0x40000;
    /** Size of that buffer. */
    public static final int EDU_DMA_BUFFER_SIZE = 4096;
    /** edu's DMA engine reaches 28-bit addresses only. */
    public static final long MAX_IOVA = (1L << 28) - 1;

    private static final int REG_ID = 0x00;
    private static final int REG_LIVENESS = 0x04;
    private static final int REG_FACTORIAL = 0x08;
    private static final int REG_STATUS = 0x20;
    private static final int REG_IRQ_STATUS = 0x24;
    private static final int REG_IRQ_RAISE = 0x60;
    private static final int REG_IRQ_ACK = 0x64;
    private static final int REG_DMA_SRC = 0x80;
    private static final int REG_DMA_DST = 0x88;
    private static final int REG_DMA_COUNT = 0x90;
    private static final int REG_DMA_CMD = 0x98;
    private static final int STATUS_COMPUTING = 0x01;
    private static final int STATUS_IRQ_ON_COMPLETION = 0x80;
    private static final int DMA_START = 0x1;
    private static final int DMA_TO_RAM = 0x2;
    private static final int DMA_IRQ = 0x4;
    private static final int IRQ_FACTORIAL = 0x001;
    private static final int IRQ_DMA = 0x100;
    private static final int PCI_COMMAND = 0x04;
    private static final int COMMAND_MEMORY = 0x2;
    private static final int COMMAND_BUS_MASTER = 0x4;

    private final Device device;
    private final Duration timeout;
    private final Semaphore interrupts = new Semaphore(0);
    private final AtomicInteger lastIrqStatus = new AtomicInteger();
    private Irq irq;
    private long setUpGeneration;

    private EduDriver(Device device, Duration timeout) {
        this.device = device;
        this.timeout = timeout;
    }

    /**
     * Checks that {@code device} is an edu, enables memory decoding and bus mastering (needed for
     * MSI and DMA) and routes its interrupt (MSI if the device has it, else INTx) to this driver.
     *
     * @param timeout how long one device operation may take
     * @throws DeviceException if the device is not an edu or cannot be set up
     */
    public static EduDriver open(Device device, Duration timeout) {
        EduDriver driver = new EduDriver(device, timeout);
        driver.setUp();
        driver.enableInterrupt();
        return driver;
    }

    /** Checks the device and enables what edu needs; done again after a rebind reset it. */
    private void setUp() {
        long generation = device.generation();
        Region config = device.region(Pci.REGION_CONFIG);
        int pciId = config.read32(0);
        if (pciId != PCI_ID) {
            throw new DeviceException(String.format("%s is not an edu device: PCI id %04x:%04x, expected 1234:11e8",
                    device.name(), pciId & 0xffff, pciId >>> 16));
        }
        config.write16(PCI_COMMAND, config.read16(PCI_COMMAND) | COMMAND_MEMORY | COMMAND_BUS_MASTER);
        setUpGeneration = generation;
    }

    /**
     * Starts an operation: if a rebind happened since the device was set up (it may have been reset,
     * losing bus mastering), sets it up again. The interrupt enable survives: the core re-applies it.
     *
     * @return the generation the operation runs on
     */
    private long begin() {
        if (device.generation() != setUpGeneration) {
            setUp();
        }
        return setUpGeneration;
    }

    /** Ends an operation: a rebind during it means its steps did not all reach the same device. */
    private void end(long generation, String what) {
        if (device.generation() != generation) {
            throw new DeviceUnavailableException(device.name() + ": the device was rebound, and possibly reset, during the "
                    + what + "; its result is lost, run it again");
        }
    }

    private void enableInterrupt() {
        Irq msi = device.irq(Pci.IRQ_MSI);
        irq = msi.info().count() > 0 ? msi : device.irq(Pci.IRQ_INTX);
        irq.enable(1, (source, vector) -> {
            // Read the cause, acknowledge it, then wake the waiter: edu keeps the line raised until acked.
            int status = bar0().read32(REG_IRQ_STATUS);
            bar0().write32(REG_IRQ_ACK, status);
            lastIrqStatus.accumulateAndGet(status, (a, b) -> a | b);
            if (source.index() == Pci.IRQ_INTX) {
                source.unmask(0);
            }
            interrupts.release();
        });
    }

    private Region bar0() {
        return device.region(Pci.REGION_BAR0);
    }

    /** @return the identification register (0x010000ed for edu 1.0) */
    public synchronized int id() {
        long g = begin();
        int id = bar0().read32(REG_ID);
        end(g, "identification");
        return id;
    }

    /**
     * Writes {@code value} to the liveness register and reads it back.
     *
     * @return what the device returned (the bitwise inverse of {@code value} on a live device)
     */
    public synchronized int liveness(int value) {
        long g = begin();
        bar0().write32(REG_LIVENESS, value);
        int back = bar0().read32(REG_LIVENESS);
        end(g, "liveness check");
        return back;
    }

    /**
     * Computes {@code n!} on the device (modulo 2^32, as edu does) and waits for its completion
     * interrupt.
     *
     * @throws DeviceException if the interrupt does not arrive within the timeout
     */
    public synchronized int factorial(int n) throws InterruptedException {
        long g = begin();
        interrupts.drainPermits();
        lastIrqStatus.set(0);
        bar0().write32(REG_STATUS, STATUS_IRQ_ON_COMPLETION);
        bar0().write32(REG_FACTORIAL, n);
        awaitInterrupt(IRQ_FACTORIAL, "factorial of " + n);
        if ((bar0().read32(REG_STATUS) & STATUS_COMPUTING) != 0) {
            throw new DeviceException(device.name() + ": factorial interrupt arrived while still computing");
        }
        int result = bar0().read32(REG_FACTORIAL);
        end(g, "factorial of " + n);
        return result;
    }

    /**
     * Raises an interrupt with {@code bits} in the interrupt status register from software and waits
     * for the driver's handler to see it.
     *
     * @return the interrupt status the handler read
     */
    public synchronized int raise(int bits) throws InterruptedException {
        long g = begin();
        interrupts.drainPermits();
        lastIrqStatus.set(0);
        bar0().write32(REG_IRQ_RAISE, bits);
        awaitInterrupt(bits, "raised interrupt 0x" + Integer.toHexString(bits));
        end(g, "raised interrupt");
        return lastIrqStatus.get();
    }

    /**
     * Sends {@code data} to the device's DMA buffer and back into host memory through the device's
     * DMA engine (two transfers, each completing with an interrupt).
     *
     * @param data at most {@link #EDU_DMA_BUFFER_SIZE} bytes
     * @return the bytes the device wrote back (equal to {@code data} on a working DMA path)
     */
    public synchronized byte[] dmaRoundTrip(byte[] data) throws InterruptedException {
        if (data.length == 0 || data.length > EDU_DMA_BUFFER_SIZE) {
            throw new IllegalArgumentException("edu DMA moves 1.." + EDU_DMA_BUFFER_SIZE + " bytes, got " + data.length);
        }
        long g = begin();
        try (DmaBuffer buffer = device.allocateDma(2L * EDU_DMA_BUFFER_SIZE, MAX_IOVA)) {
            buffer.memory().put(data);
            dma(buffer.iova(), EDU_DMA_BUFFER, data.length, 0);
            dma(EDU_DMA_BUFFER, buffer.iova() + EDU_DMA_BUFFER_SIZE, data.length, DMA_TO_RAM);
            byte[] back = new byte[data.length];
            buffer.memory().position(EDU_DMA_BUFFER_SIZE).get(back);
            end(g, "DMA round trip");
            return back;
        }
    }

    private void dma(long src, long dst, int count, int direction) throws InterruptedException {
        interrupts.drainPermits();
        lastIrqStatus.set(0);
        Region bar0 = bar0();
        // edu latches a 4-byte write as the whole address; IOVAs are below 2^28.
        bar0.write32(REG_DMA_SRC, (int) src);
        bar0.write32(REG_DMA_DST, (int) dst);
        bar0.write32(REG_DMA_COUNT, count);
        bar0.write32(REG_DMA_CMD, DMA_START | direction | DMA_IRQ);
        awaitInterrupt(IRQ_DMA, "DMA of " + count + " bytes");
    }

    private void awaitInterrupt(int bits, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while ((lastIrqStatus.get() & bits) == 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !interrupts.tryAcquire(left, TimeUnit.NANOSECONDS)) {
                throw new DeviceException(device.name() + ": no interrupt for the " + what + " within "
                        + timeout.toMillis() + " ms (interrupt status 0x" + Integer.toHexString(lastIrqStatus.get()) + ")");
            }
        }
    }

    /** @return how many interrupts the driver has received */
    public long interruptCount() {
        return irq.count(0);
    }

    /** Disables the device's interrupt. */
    @Override
    public synchronized void close() {
        irq.disable();
    }
}
