package vfio.emulator.edu.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import vfio.api.device.Pci;
import vfio.user.server.Bar;
import vfio.user.server.DmaException;
import vfio.user.server.Interrupts;
import vfio.user.server.MigrationHandler;
import vfio.user.server.PciDevice;
import vfio.user.server.RegionHandler;

/**
 * QEMU's educational PCI device ({@code hw/misc/edu.c}, vendor 0x1234, device 0x11e8) on the
 * vfio-user server library. BAR0 is 1 MiB of registers:
 *
 * <pre>
 * 0x00 RO  identification 0x010000ed (major 1, minor 0, magic 0xed)
 * 0x04 RW  liveness: reads back the bitwise inverse of what was written
 * 0x08 RW  factorial: write n, read n! (32-bit wrap-around) once status bit 0 clears
 * 0x20 RW  status: bit 0 computing (RO), bit 7 raise interrupt 0x001 when the factorial is done
 * 0x24 RO  interrupt status
 * 0x60 WO  raise interrupt: ORs the value into the interrupt status
 * 0x64 WO  acknowledge interrupt: clears those bits; the line drops when none is left
 * 0x80 RW  DMA source address          0x88 RW  DMA destination address
 * 0x90 RW  DMA count                   0x98 RW  DMA command: bit 0 start, bit 1 direction
 *          (0 RAM to device, 1 device to RAM), bit 2 raise interrupt 0x100 when done
 * </pre>
 *
 * Registers below 0x80 take only 4-byte accesses, the DMA registers 4 or 8 bytes; other accesses
 * read as all ones and are ignored, as in QEMU. The DMA buffer is at device address 0x40000, 4096
 * bytes; DMA addresses are clamped to the DMA mask (28 bits). Interrupts go through MSI (one vector)
 * when the client enabled it, else INTx.
 *
 * <p>Unlike QEMU, which trusts the guest, a DMA whose range leaves the 4 KiB buffer moves nothing
 * (it completes, with its interrupt if requested, and is logged). The factorial and each DMA
 * complete after a configurable latency on a worker thread (QEMU: a thread, and a 100 ms timer).
 *
 * <p>Threading: register callbacks run on the server's connection thread, the computations on
 * the worker; state is guarded by this object's monitor, which is never held while DMA waits for
 * the client.
 */
public final class EduDevice implements RegionHandler, MigrationHandler, AutoCloseable {
    public static final int VENDOR_ID = 0x1234;
    public static final int DEVICE_ID = 0x11e8;
    public static final long BAR0_SIZE = 1 << 20;
    static final int ID = 0x010000ed;
    static final int STATUS_COMPUTING = 0x01;
    static final int STATUS_IRQFACT = 0x80;
    static final int FACT_IRQ = 0x001;
    static final int DMA_IRQ = 0x100;
    static final long DMA_RUN = 0x1;
    static final long DMA_TO_RAM = 0x2;
    static final long DMA_IRQ_ENABLE = 0x4;
    static final long DMA_START = 0x40000;
    static final int DMA_SIZE = 4096;
    private static final int STATE_VERSION = 1;
    private static final int STATE_SIZE = 4 + 4 * 4 + 4 * 8 + DMA_SIZE;
    private static final System.Logger LOG = System.getLogger(EduDevice.class.getName());

    private final PciDevice device;
    private final ScheduledExecutorService worker;
    private final long latencyNanos;
    private final long dmaMask;

    private int addr4;
    private int fact;
    private int status;
    private int irqStatus;
    private long dmaSrc;
    private long dmaDst;
    private long dmaCount;
    private long dmaCmd;
    private final byte[] dmaBuffer = new byte[DMA_SIZE];
    /** Bumped by reset and load: work scheduled before belongs to an older state and is dropped. */
    private long generation;
    private boolean stopped;

    /**
     * @param latency     delay before a factorial or DMA completes
     * @param dmaMaskBits width of the DMA addresses (QEMU's default is 28)
     */
    public EduDevice(Duration latency, int dmaMaskBits) throws IOException {
        if (latency.isNegative() || dmaMaskBits < 1 || dmaMaskBits > 64) {
            throw new IllegalArgumentException("latency " + latency + " must not be negative and the DMA mask width "
                    + dmaMaskBits + " must be in [1, 64]");
        }
        this.latencyNanos = latency.toNanos();
        this.dmaMask = dmaMaskBits == 64 ? -1L : (1L << dmaMaskBits) - 1;
        this.worker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "edu-device-worker");
            t.setDaemon(true);
            return t;
        });
        try {
            this.device = PciDevice.builder().vendorId(VENDOR_ID).deviceId(DEVICE_ID).subsystem(0x1af4, 0x1100)
                    .classCode(0xff0000).revision(0x10).bar(0, Bar.mmio(BAR0_SIZE, this)).intx().msi(1)
                    .onReset(this::reset).migration(this).build();
        } catch (IOException | RuntimeException e) {
            worker.shutdownNow();
            throw e;
        }
    }

    /** @return the PCI device to serve */
    public PciDevice pciDevice() {
        return device;
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset < 0x80 ? size != 4 : size != 4 && size != 8) {
            return -1L;
        }
        return switch ((int) offset) {
            case 0x00 -> ID;
            case 0x04 -> addr4 & 0xffffffffL;
            case 0x08 -> fact & 0xffffffffL;
            case 0x20 -> status;
            case 0x24 -> irqStatus & 0xffffffffL;
            case 0x80 -> dmaSrc;
            case 0x88 -> dmaDst;
            case 0x90 -> dmaCount;
            case 0x98 -> dmaCmd;
            default -> -1L;
        };
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (offset < 0x80 ? size != 4 : size != 4 && size != 8) {
            return;
        }
        boolean dmaRunning = (dmaCmd & DMA_RUN) != 0;
        switch ((int) offset) {
            case 0x04 -> addr4 = ~(int) value;
            case 0x08 -> {
                if ((status & STATUS_COMPUTING) == 0) {
                    fact = (int) value;
                    status |= STATUS_COMPUTING;
                    schedule(this::completeFactorial);
                }
            }
            case 0x20 -> status = (value & STATUS_IRQFACT) != 0 ? status | STATUS_IRQFACT : status & ~STATUS_IRQFACT;
            case 0x60 -> raise((int) value);
            case 0x64 -> lower((int) value);
            case 0x80 -> dmaSrc = dmaRunning ? dmaSrc : value;
            case 0x88 -> dmaDst = dmaRunning ? dmaDst : value;
            case 0x90 -> dmaCount = dmaRunning ? dmaCount : value;
            case 0x98 -> {
                if ((value & DMA_RUN) != 0 && !dmaRunning) {
                    dmaCmd = value;
                    schedule(this::completeDma);
                }
            }
            default -> {
                // read-only or unassigned: ignored, as in QEMU
            }
        }
    }

    private void schedule(java.util.function.LongConsumer task) {
        long gen = generation;
        try {
            worker.schedule(() -> task.accept(gen), latencyNanos, TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.log(Level.DEBUG, "edu device closed; work dropped");
        }
    }

    private void completeFactorial(long gen) {
        synchronized (this) {
            if (gen != generation || stopped || (status & STATUS_COMPUTING) == 0) {
                return; // reset, loaded or stopped (resume schedules it again)
            }
            int n = fact;
            int result = 1;
            // 34! holds 2^32 (17 + 8 + 4 + 2 + 1 factors of two): from there on the 32-bit result is 0,
            // which spares a hostile n = 0xffffffff four billion multiplications.
            if (Integer.compareUnsigned(n, 34) >= 0) {
                result = 0;
            } else {
                while (n > 0) {
                    result *= n--;
                }
            }
            fact = result;
            status &= ~STATUS_COMPUTING;
            if ((status & STATUS_IRQFACT) != 0) {
                raise(FACT_IRQ);
            }
        }
    }

    private void completeDma(long gen) {
        long cmd;
        long src;
        long dst;
        long count;
        byte[] outgoing = null;
        synchronized (this) {
            if (gen != generation || stopped || (dmaCmd & DMA_RUN) == 0) {
                return;
            }
            cmd = dmaCmd;
            src = dmaSrc;
            dst = dmaDst;
            count = dmaCount;
            if ((cmd & DMA_TO_RAM) != 0 && inBuffer(src, count)) {
                outgoing = java.util.Arrays.copyOfRange(dmaBuffer, (int) (src - DMA_START), (int) (src - DMA_START + count));
            }
        }
        boolean toRam = (cmd & DMA_TO_RAM) != 0;
        byte[] incoming = null;
        long bufferAddress = toRam ? src : dst;
        if (!inBuffer(bufferAddress, count)) {
            LOG.log(Level.WARNING, String.format("edu: DMA of %d bytes at device address 0x%x leaves the buffer"
                    + " 0x%x+0x%x; nothing moved", count, bufferAddress, DMA_START, DMA_SIZE));
        } else {
            // No lock here: a DMA message waits for the client, whose register accesses need the lock.
            try {
                if (toRam) {
                    device.dma().write(clamp(dst), ByteBuffer.wrap(outgoing));
                } else {
                    incoming = new byte[(int) count];
                    device.dma().read(clamp(src), ByteBuffer.wrap(incoming));
                }
            } catch (DmaException e) {
                LOG.log(Level.WARNING, "edu: DMA failed: " + e.getMessage());
                incoming = null;
            }
        }
        synchronized (this) {
            if (gen != generation) {
                return;
            }
            if (incoming != null) {
                System.arraycopy(incoming, 0, dmaBuffer, (int) (dst - DMA_START), incoming.length);
            }
            dmaCmd &= ~DMA_RUN;
            if ((cmd & DMA_IRQ_ENABLE) != 0) {
                raise(DMA_IRQ);
            }
        }
    }

    private static boolean inBuffer(long address, long count) {
        return address >= DMA_START && count >= 0 && count <= DMA_SIZE && address - DMA_START <= DMA_SIZE - count;
    }

    private long clamp(long address) {
        long clamped = address & dmaMask;
        if (clamped != address) {
            LOG.log(Level.DEBUG, () -> String.format("edu: clamping DMA address 0x%x to 0x%x", address, clamped));
        }
        return clamped;
    }

    /** Called with the monitor held. */
    private void raise(int bits) {
        irqStatus |= bits;
        if (irqStatus != 0) {
            Interrupts irqs = device.interrupts();
            if (irqs.activeIndex() == Pci.IRQ_MSI) {
                irqs.trigger(Pci.IRQ_MSI, 0);
            } else {
                irqs.setIntx(true);
            }
        }
    }

    /** Called with the monitor held. */
    private void lower(int bits) {
        irqStatus &= ~bits;
        if (irqStatus == 0) {
            device.interrupts().setIntx(false);
        }
    }

    /** Device reset: every register back to 0 and pending work dropped. */
    private synchronized void reset() {
        generation++;
        addr4 = 0;
        fact = 0;
        status = 0;
        irqStatus = 0;
        dmaSrc = 0;
        dmaDst = 0;
        dmaCount = 0;
        dmaCmd = 0;
        java.util.Arrays.fill(dmaBuffer, (byte) 0);
    }

    /**
     * Stops new work and waits for work in progress to finish (a DMA by message may take until the
     * server's DMA timeout: the connection thread that runs this cannot read the client's reply,
     * unless a twin socket was negotiated).
     */
    @Override
    public void stop() {
        synchronized (this) {
            stopped = true;
        }
        // The worker is single-threaded: once this no-op ran, work that had started is complete.
        try {
            worker.submit(() -> {
            }).get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | java.util.concurrent.RejectedExecutionException e) {
            LOG.log(Level.WARNING, "edu: work in progress did not finish before the stop", e);
        }
    }

    @Override
    public synchronized void resume() {
        stopped = false;
        if ((status & STATUS_COMPUTING) != 0) {
            schedule(this::completeFactorial);
        }
        if ((dmaCmd & DMA_RUN) != 0) {
            schedule(this::completeDma);
        }
        if (irqStatus != 0 && device.interrupts().activeIndex() != Pci.IRQ_MSI) {
            device.interrupts().setIntx(true); // a loaded state may have its INTx line up
        }
    }

    @Override
    public synchronized byte[] save() {
        ByteBuffer b = ByteBuffer.allocate(STATE_SIZE);
        b.putInt(STATE_VERSION).putInt(addr4).putInt(fact).putInt(status).putInt(irqStatus);
        b.putLong(dmaSrc).putLong(dmaDst).putLong(dmaCount).putLong(dmaCmd).put(dmaBuffer);
        return b.array();
    }

    @Override
    public synchronized void load(byte[] state) {
        if (state.length != STATE_SIZE) {
            throw new IllegalArgumentException("edu state is " + STATE_SIZE + " bytes, got " + state.length);
        }
        ByteBuffer b = ByteBuffer.wrap(state);
        int version = b.getInt();
        if (version != STATE_VERSION) {
            throw new IllegalArgumentException("edu state version " + version + " is not " + STATE_VERSION);
        }
        generation++;
        addr4 = b.getInt();
        fact = b.getInt();
        status = b.getInt() & (STATUS_COMPUTING | STATUS_IRQFACT);
        irqStatus = b.getInt();
        dmaSrc = b.getLong();
        dmaDst = b.getLong();
        dmaCount = b.getLong();
        dmaCmd = b.getLong();
        b.get(dmaBuffer);
    }

    /** Stops the worker and releases the device. Close the server first. */
    @Override
    public void close() {
        worker.shutdownNow();
        device.close();
    }
}
