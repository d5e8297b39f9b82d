package vfio.backend.apple.internal;

import java.nio.ByteBuffer;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextException;

/**
 * The config region (index 7) through ConfigRead/ConfigWrite, with the rules of the dext backend:
 * <ul>
 * <li>Reads of 1, 2 or 4 bytes are one ConfigRead of that width; other sizes are split into 4-byte
 * reads and then 1-byte reads; bytes at 4096 and beyond read as zero (no call).</li>
 * <li>Writes, in ascending order: bytes of COMMAND (0x04-0x05) are forwarded one at a time; bytes of
 * STATUS (0x06-0x07) and of BAR0-BAR5 (0x10-0x27) are dropped silently, because macOS and its IOMMU
 * own them and touching them can make the device fall off the bus; every other run of bytes is
 * forwarded in naturally aligned writes of 4, 2 or 1 bytes (so an aligned 1/2/4-byte write of other
 * registers is one ConfigWrite of that width). Bytes at 4096 and beyond are dropped.</li>
 * </ul>
 * Stateless; thread-safe as the connection is.
 */
final class ConfigSpace {
    /** Size of the config region in bytes. */
    static final int SIZE = 4096;
    static final int COMMAND = 0x04;
    static final int STATUS = 0x06;
    static final int BAR0 = 0x10;
    static final int BAR_END = 0x28;
    static final int CAPABILITY_POINTER = 0x34;
    static final int STATUS_CAPABILITY_LIST = 0x10;
    static final int CAP_ID_MSIX = 0x11;

    private ConfigSpace() {
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst} (little-endian, as config
     * space is), advancing its position.
     */
    static void read(DextConnection dext, long offset, ByteBuffer dst) throws DextException {
        int length = dst.remaining();
        byte[] out = new byte[length];
        int inside = offset >= SIZE ? 0 : (int) Math.min(length, SIZE - offset);
        int at = (int) offset;
        if (inside == length && (length == 1 || length == 2 || length == 4)) {
            put(out, 0, length, dext.configRead(at, length));
        } else {
            int pos = 0;
            for (; inside - pos >= 4; pos += 4) {
                put(out, pos, 4, dext.configRead(at + pos, 4));
            }
            for (; pos < inside; pos++) {
                put(out, pos, 1, dext.configRead(at + pos, 1));
            }
        }
        dst.put(out);
    }

    /** Writes {@code src.remaining()} bytes at {@code offset} under the rules above, advancing {@code src}. */
    static void write(DextConnection dext, long offset, ByteBuffer src) throws DextException {
        byte[] data = new byte[src.remaining()];
        src.get(data);
        int n = offset >= SIZE ? 0 : (int) Math.min(data.length, SIZE - offset);
        int base = (int) offset;
        int i = 0;
        while (i < n) {
            int at = base + i;
            if (isCommand(at)) {
                dext.configWrite(at, 1, data[i] & 0xffL);
                i++;
            } else if (isOwnedByMacOs(at)) {
                i++;
            } else {
                int end = i;
                while (end < n && !isCommand(base + end) && !isOwnedByMacOs(base + end)) {
                    end++;
                }
                while (i < end) {
                    at = base + i;
                    int width = at % 4 == 0 && end - i >= 4 ? 4 : at % 2 == 0 && end - i >= 2 ? 2 : 1;
                    dext.configWrite(at, width, get(data, i, width));
                    i += width;
                }
            }
        }
    }

    /** @return whether the byte at {@code offset} belongs to COMMAND */
    static boolean isCommand(int offset) {
        return offset == COMMAND || offset == COMMAND + 1;
    }

    /** @return whether writes to the byte at {@code offset} are dropped (STATUS, BAR0-5) */
    static boolean isOwnedByMacOs(int offset) {
        return offset == STATUS || offset == STATUS + 1 || (offset >= BAR0 && offset < BAR_END);
    }

    /**
     * Walks the capability list for MSI-X.
     *
     * @return the MSI-X table size (entries), or 0 if the device has no MSI-X capability
     */
    static int msixTableSize(DextConnection dext) throws DextException {
        if ((dext.configRead(STATUS, 2) & STATUS_CAPABILITY_LIST) == 0) {
            return 0;
        }
        int ptr = (int) dext.configRead(CAPABILITY_POINTER, 1) & 0xfc;
        // 48 is the most capabilities that fit in 192 bytes; a longer walk means a loop in the list.
        for (int hops = 0; ptr >= 0x40 && hops < 48; hops++) {
            long header = dext.configRead(ptr, 2);
            if ((header & 0xff) == CAP_ID_MSIX) {
                return (int) (dext.configRead(ptr + 2, 2) & 0x7ff) + 1;
            }
            ptr = (int) (header >>> 8) & 0xfc;
        }
        return 0;
    }

    private static void put(byte[] out, int at, int width, long value) {
        for (int i = 0; i < width; i++) {
            out[at + i] = (byte) (value >>> (8 * i));
        }
    }

    private static long get(byte[] data, int at, int width) {
        long v = 0;
        for (int i = 0; i < width; i++) {
            v |= (data[at + i] & 0xffL) << (8 * i);
        }
        return v;
    }
}
