package vfio.user.server.internal;

import java.util.Optional;
import vfio.user.server.Bar;

/**
 * The emulated 256-byte type 0 configuration space. Every byte has a write mask: a client write
 * changes only the writable bits, which yields BAR sizing for free (the address bits below the BAR
 * size are not writable, so writing all ones reads back the size mask and the read-only type bits).
 *
 * <p>Threading: synchronized; device threads read COMMAND while the connection thread writes.
 */
public final class ConfigSpace {
    public static final int SIZE = 256;
    static final int COMMAND = 0x04;
    static final int STATUS = 0x06;
    static final int COMMAND_IO = 1;
    static final int COMMAND_MEMORY = 1 << 1;
    static final int COMMAND_BUS_MASTER = 1 << 2;
    static final int COMMAND_PARITY = 1 << 6;
    static final int COMMAND_SERR = 1 << 8;
    static final int COMMAND_INTX_DISABLE = 1 << 10;
    static final int STATUS_INTERRUPT = 1 << 3;
    static final int STATUS_CAP_LIST = 1 << 4;
    private static final int FIRST_CAPABILITY = 0x40;

    private final byte[] data = new byte[SIZE];
    private final byte[] wmask = new byte[SIZE];
    private final byte[] initial;

    ConfigSpace(Definition d) {
        put16(0x00, d.vendorId());
        put16(0x02, d.deviceId());
        data[0x08] = (byte) d.revision();
        put16(0x09, d.classCode() & 0xffff);
        data[0x0b] = (byte) (d.classCode() >>> 16);
        put16(0x2c, d.subsystemVendorId());
        put16(0x2e, d.subsystemId());
        put16w(COMMAND, COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_PARITY | COMMAND_SERR
                | COMMAND_INTX_DISABLE);
        wmask[0x0c] = (byte) 0xff; // cache line size
        wmask[0x3c] = (byte) 0xff; // interrupt line: scratch for the OS
        data[0x3d] = (byte) (d.intx() ? 1 : 0); // interrupt pin INTA
        for (int i = 0; i < 6; i++) {
            Optional<Bar> bar = d.bars().get(i);
            if (bar.isPresent()) {
                defineBar(i, bar.get());
            }
        }
        int at = FIRST_CAPABILITY;
        int previousNext = 0x34;
        for (Definition.Capability c : d.capabilities()) {
            data[previousNext] = (byte) at;
            data[at] = (byte) c.id();
            previousNext = at + 1;
            at = defineCapability(at, c, d);
            if (at > SIZE) {
                throw new IllegalStateException("the capabilities do not fit in the 256-byte config space");
            }
        }
        if (!d.capabilities().isEmpty()) {
            put16(STATUS, STATUS_CAP_LIST);
        }
        initial = data.clone();
    }

    private void defineBar(int index, Bar bar) {
        int reg = 0x10 + 4 * index;
        long sizeMask = ~(bar.size() - 1);
        int typeBits = switch (bar.type()) {
            case IO -> 0x1;
            case MEMORY32 -> 0x0;
            case MEMORY64 -> 0x4;
        } | (bar.prefetchable() ? 0x8 : 0);
        int lowFlags = bar.type() == Bar.Type.IO ? 0x3 : 0xf;
        put32(reg, typeBits);
        put32w(reg, (int) sizeMask & ~lowFlags);
        if (bar.type() == Bar.Type.MEMORY64) {
            put32w(reg + 4, (int) (sizeMask >>> 32));
        }
    }

    private int defineCapability(int at, Definition.Capability c, Definition d) {
        switch (c.id()) {
            case Definition.CAP_MSI -> {
                int mmc = Integer.numberOfTrailingZeros(d.msiVectors());
                // control: 64-bit capable, multiple message capable; enable and multiple message enable writable
                put16(at + 2, 0x80 | mmc << 1);
                put16w(at + 2, 0x71);
                put32w(at + 4, 0xfffffffc); // message address
                put32w(at + 8, 0xffffffff); // upper address
                put16w(at + 12, 0xffff); // message data
                return at + 16;
            }
            case Definition.CAP_MSIX -> {
                Definition.Msix m = d.msix().orElseThrow();
                put16(at + 2, m.vectors() - 1);
                put16w(at + 2, 0xc000); // MSI-X enable, function mask
                put32(at + 4, (int) m.tableOffset() | m.tableBar());
                put32(at + 8, (int) m.pbaOffset() | m.pbaBar());
                return at + 12;
            }
            case Definition.CAP_VENDOR -> {
                byte[] body = c.data();
                data[at + 2] = (byte) (3 + body.length);
                System.arraycopy(body, 0, data, at + 3, body.length);
                return (at + 3 + body.length + 3) & ~3;
            }
            default -> throw new IllegalArgumentException("unknown capability id " + c.id());
        }
    }

    /** Copies {@code length} bytes at {@code offset} (already bounds-checked) into {@code dst}. */
    public synchronized void read(int offset, byte[] dst, int dstOffset, int length) {
        System.arraycopy(data, offset, dst, dstOffset, length);
    }

    /** Writes the writable bits of {@code length} bytes at {@code offset} (already bounds-checked). */
    public synchronized void write(int offset, byte[] src, int srcOffset, int length) {
        for (int i = 0; i < length; i++) {
            int at = offset + i;
            data[at] = (byte) (data[at] & ~wmask[at] | src[srcOffset + i] & wmask[at]);
        }
    }

    /** @return the COMMAND register */
    public synchronized int command() {
        return get16(COMMAND);
    }

    /** @return whether bus mastering is enabled */
    public boolean busMaster() {
        return (command() & COMMAND_BUS_MASTER) != 0;
    }

    /** @return whether the INTx-disable bit is set */
    public boolean intxDisabled() {
        return (command() & COMMAND_INTX_DISABLE) != 0;
    }

    /** Mirrors the INTx line into STATUS bit 3 (Interrupt Status), as PCI requires. */
    synchronized void setInterruptStatus(boolean asserted) {
        int status = get16(STATUS);
        put16(STATUS, asserted ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
    }

    /** Restores the power-on contents. */
    synchronized void reset() {
        System.arraycopy(initial, 0, data, 0, SIZE);
    }

    private int get16(int at) {
        return data[at] & 0xff | (data[at + 1] & 0xff) << 8;
    }

    private void put16(int at, int v) {
        data[at] = (byte) v;
        data[at + 1] = (byte) (v >>> 8);
    }

    private void put32(int at, int v) {
        put16(at, v);
        put16(at + 2, v >>> 16);
    }

    private void put16w(int at, int mask) {
        wmask[at] = (byte) mask;
        wmask[at + 1] = (byte) (mask >>> 8);
    }

    private void put32w(int at, int mask) {
        put16w(at, mask);
        put16w(at + 2, mask >>> 16);
    }
}
