package vfio.backend.apple.sim;

import java.nio.ByteBuffer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A device model with the register interface of QEMU's {@code edu} device ({@code
 * docs/specs/edu.rst}) in BAR0:
 * <ul>
 * <li>0x00 (RO) identification {@code 0x010000ed};</li>
 * <li>0x04 (RW) liveness: reads the inverse of the value written;</li>
 * <li>0x08 (RW) factorial: writing n computes n! (on the model's thread) into 0x08; 0x20 bit 0x01 is
 * set meanwhile, and with 0x20 bit 0x80 set the completion raises interrupt status 0x01;</li>
 * <li>0x20 (RW) status, 0x24 (RO) interrupt status, 0x60 (WO) raise: ORs the value into the
 * interrupt status and fires vector 0, 0x64 (WO) acknowledge: clears those bits;</li>
 * <li>0x80 DMA source, 0x88 DMA destination, 0x90 DMA count, 0x98 DMA command (0x01 start, 0x02
 * direction device-to-RAM, 0x04 raise interrupt status 0x100 when done). The device's own buffer is at
 * device address 0x40000, 4096 bytes; RAM addresses are bus addresses of registered DMA regions.</li>
 * </ul>
 * Interrupts fire vector 0 (MSI or MSI-X vector 0 or INTx, whichever the client enabled).
 */
public final class EduModel implements DeviceModel {
    public static final int ID = 0x010000ed;
    public static final int REG_ID = 0x00;
    public static final int REG_LIVENESS = 0x04;
    public static final int REG_FACTORIAL = 0x08;
    public static final int REG_STATUS = 0x20;
    public static final int REG_IRQ_STATUS = 0x24;
    public static final int REG_IRQ_RAISE = 0x60;
    public static final int REG_IRQ_ACK = 0x64;
    public static final int REG_DMA_SRC = 0x80;
    public static final int REG_DMA_DST = 0x88;
    public static final int REG_DMA_COUNT = 0x90;
    public static final int REG_DMA_CMD = 0x98;
    public static final int STATUS_COMPUTING = 0x01;
    public static final int STATUS_IRQ_ON_FACTORIAL = 0x80;
    public static final int IRQ_FACTORIAL = 0x001;
    public static final int IRQ_DMA = 0x100;
    public static final int DMA_START = 0x01;
    public static final int DMA_TO_RAM = 0x02;
    public static final int DMA_IRQ = 0x04;
    public static final long DMA_BUFFER = 0x40000;
    public static final int DMA_BUFFER_SIZE = 4096;

    private DeviceContext device;
    private ExecutorService worker;
    private final byte[] buffer = new byte[DMA_BUFFER_SIZE];
    /** Bumped by reset so work started before it does not touch the registers afterwards. */
    private int generation;
    private boolean computing;
    private int dmaErrors;

    @Override
    public void attach(DeviceContext context) {
        this.device = context;
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "sim-edu-device");
            t.setDaemon(true);
            return t;
        });
        regs().putInt(REG_ID, ID);
    }

    private ByteBuffer regs() {
        return device.bar(0);
    }

    @Override
    public void written(int bar, long offset, int width, long value) {
        if (bar != 0) {
            return;
        }
        ByteBuffer r = regs();
        int reg = (int) offset & ~3;
        switch (reg) {
            case REG_ID -> r.putInt(REG_ID, ID);
            case REG_LIVENESS -> r.putInt(REG_LIVENESS, ~r.getInt(REG_LIVENESS));
            case REG_FACTORIAL -> startFactorial(r);
            case REG_STATUS -> r.putInt(REG_STATUS, (r.getInt(REG_STATUS) & STATUS_IRQ_ON_FACTORIAL) | (computing ? STATUS_COMPUTING : 0));
            case REG_IRQ_STATUS -> r.putInt(REG_IRQ_STATUS, irqStatus);
            case REG_IRQ_RAISE -> {
                int v = r.getInt(REG_IRQ_RAISE);
                r.putInt(REG_IRQ_RAISE, 0);
                raise(v);
            }
            case REG_IRQ_ACK -> {
                int v = r.getInt(REG_IRQ_ACK);
                r.putInt(REG_IRQ_ACK, 0);
                irqStatus &= ~v;
                r.putInt(REG_IRQ_STATUS, irqStatus);
            }
            case REG_DMA_CMD, REG_DMA_CMD + 4 -> startDma(r);
            default -> {
                // plain memory (the DMA address and count registers, unused space)
            }
        }
    }

    private int irqStatus;

    private void raise(int bits) {
        irqStatus |= bits;
        regs().putInt(REG_IRQ_STATUS, irqStatus);
        device.raise(0);
    }

    private void startFactorial(ByteBuffer r) {
        if (computing) {
            return; // edu ignores the write while computing
        }
        int n = r.getInt(REG_FACTORIAL);
        computing = true;
        r.putInt(REG_STATUS, r.getInt(REG_STATUS) | STATUS_COMPUTING);
        int gen = generation;
        worker.execute(() -> {
            int fact = 1;
            for (int i = 2; i <= n; i++) {
                fact *= i;
            }
            synchronized (device.lock()) {
                if (gen != generation) {
                    return;
                }
                ByteBuffer regs = regs();
                regs.putInt(REG_FACTORIAL, fact);
                computing = false;
                int status = regs.getInt(REG_STATUS) & ~STATUS_COMPUTING;
                regs.putInt(REG_STATUS, status);
                if ((status & STATUS_IRQ_ON_FACTORIAL) != 0) {
                    raise(IRQ_FACTORIAL);
                }
            }
        });
    }

    private void startDma(ByteBuffer r) {
        long cmd = r.getLong(REG_DMA_CMD);
        if ((cmd & DMA_START) == 0) {
            return;
        }
        long src = r.getLong(REG_DMA_SRC);
        long dst = r.getLong(REG_DMA_DST);
        long count = r.getLong(REG_DMA_COUNT);
        int gen = generation;
        worker.execute(() -> {
            synchronized (device.lock()) {
                if (gen != generation) {
                    return;
                }
                try {
                    if ((cmd & DMA_TO_RAM) != 0) {
                        int at = bufferOffset(src, count);
                        device.dmaWrite(dst, buffer, at, (int) count);
                    } else {
                        int at = bufferOffset(dst, count);
                        device.dmaRead(src, buffer, at, (int) count);
                    }
                } catch (RuntimeException e) {
                    dmaErrors++; // edu does not report DMA errors; the count lets tests see them
                }
                ByteBuffer regs = regs();
                regs.putLong(REG_DMA_CMD, regs.getLong(REG_DMA_CMD) & ~DMA_START);
                if ((cmd & DMA_IRQ) != 0) {
                    raise(IRQ_DMA);
                }
            }
        });
    }

    private static int bufferOffset(long deviceAddress, long count) {
        long at = deviceAddress - DMA_BUFFER;
        if (at < 0 || count < 0 || at + count > DMA_BUFFER_SIZE) {
            throw new IllegalArgumentException("DMA outside the edu buffer: 0x" + Long.toHexString(deviceAddress) + "+" + count);
        }
        return (int) at;
    }

    /** @return DMA transfers that failed (bad buffer range or unregistered bus address) */
    public int dmaErrors() {
        synchronized (device.lock()) {
            return dmaErrors;
        }
    }

    @Override
    public void reset() {
        generation++;
        computing = false;
        irqStatus = 0;
        java.util.Arrays.fill(buffer, (byte) 0);
        ByteBuffer r = regs();
        for (int i = 0; i < r.capacity(); i += 8) {
            r.putLong(i, 0);
        }
        r.putInt(REG_ID, ID);
    }

    @Override
    public void close() {
        if (worker != null) {
            worker.shutdownNow();
            try {
                worker.awaitTermination(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
