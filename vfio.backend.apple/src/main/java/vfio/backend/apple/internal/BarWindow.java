package vfio.backend.apple.internal;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import vfio.api.device.OutOfRangeException;
import vfio.backend.apple.dext.BarMapping;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextException;

/**
 * Trapped (region read/write) access to one BAR, bounds-checked and split into naturally aligned
 * accesses of 8, 4, 2 or 1 bytes (device memory faults on unaligned accesses on arm64), each one load
 * or store of that width. Two kinds: through the BAR's mapping in this process, or, for a BAR the
 * dext would not map (and I/O BARs), through MMIORead/MMIOWrite.
 *
 * <p>Thread-safe: accesses do not share state.
 */
abstract class BarWindow {
    private final int bar;
    private final long size;

    BarWindow(int bar, long size) {
        this.bar = bar;
        this.size = size;
    }

    /** @return the number of bytes reachable, from offset 0 */
    final long size() {
        return size;
    }

    /** One access of {@code width} bytes at an offset aligned to it. */
    abstract long load(long offset, int width) throws DextException;

    /** One store of the low {@code width} bytes of {@code value} at an offset aligned to it. */
    abstract void store(long offset, int width, long value) throws DextException;

    /** Reads {@code dst.remaining()} bytes at {@code offset}, advancing {@code dst}. */
    final void read(long offset, ByteBuffer dst) throws DextException {
        int length = dst.remaining();
        checkBounds(offset, length);
        for (int pos = 0; pos < length;) {
            int width = widest(offset + pos, length - pos);
            long v = load(offset + pos, width);
            for (int i = 0; i < width; i++) {
                dst.put((byte) (v >>> (8 * i)));
            }
            pos += width;
        }
    }

    /** Writes {@code src.remaining()} bytes at {@code offset}, advancing {@code src}. */
    final void write(long offset, ByteBuffer src) throws DextException {
        int length = src.remaining();
        checkBounds(offset, length);
        for (int pos = 0; pos < length;) {
            int width = widest(offset + pos, length - pos);
            long v = 0;
            for (int i = 0; i < width; i++) {
                v |= (src.get() & 0xffL) << (8 * i);
            }
            store(offset + pos, width, v);
            pos += width;
        }
    }

    private void checkBounds(long offset, int length) {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new OutOfRangeException("BAR" + bar + " access of " + length + " bytes at 0x" + Long.toHexString(offset)
                    + " is outside its 0x" + Long.toHexString(size) + " bytes");
        }
    }

    /** @return the widest of 8, 4, 2, 1 that is aligned at {@code at} and fits in {@code left} */
    static int widest(long at, int left) {
        for (int w = 8; w > 1; w >>= 1) {
            if (left >= w && (at & (w - 1)) == 0) {
                return w;
            }
        }
        return 1;
    }

    /** Loads and stores through the BAR's mapping (the connection owns it for as long as the session lives). */
    static final class Mapped extends BarWindow {
        /** Views of at most 1 GiB each (a ByteBuffer is int-indexed); aligned accesses never straddle two. */
        private static final long CHUNK = 1L << 30;
        private final ByteBuffer[] chunks;

        Mapped(BarMapping mapping, long barSize) {
            super(mapping.bar(), Math.min(mapping.size(), barSize)); // clamp to the BAR size
            long n = (size() + CHUNK - 1) / CHUNK;
            chunks = new ByteBuffer[(int) n];
            for (int i = 0; i < n; i++) {
                long length = Math.min(CHUNK, size() - i * CHUNK);
                chunks[i] = new Pointer(mapping.address() + i * CHUNK).getByteBuffer(0, length).order(ByteOrder.LITTLE_ENDIAN);
            }
        }

        @Override
        long load(long offset, int width) {
            ByteBuffer b = chunks[(int) (offset / CHUNK)];
            int at = (int) (offset % CHUNK);
            return switch (width) {
                case 1 -> b.get(at) & 0xffL;
                case 2 -> b.getShort(at) & 0xffffL;
                case 4 -> b.getInt(at) & 0xffff_ffffL;
                default -> b.getLong(at);
            };
        }

        @Override
        void store(long offset, int width, long value) {
            ByteBuffer b = chunks[(int) (offset / CHUNK)];
            int at = (int) (offset % CHUNK);
            switch (width) {
                case 1 -> b.put(at, (byte) value);
                case 2 -> b.putShort(at, (short) value);
                case 4 -> b.putInt(at, (int) value);
                default -> b.putLong(at, value);
            }
        }
    }

    /** Loads and stores through MMIORead/MMIOWrite (selectors 11 and 12). */
    static final class ThroughDext extends BarWindow {
        private final DextConnection dext;
        private final int memoryIndex;

        ThroughDext(DextConnection dext, int bar, int memoryIndex, long size) {
            super(bar, size);
            this.dext = dext;
            this.memoryIndex = memoryIndex;
        }

        @Override
        long load(long offset, int width) throws DextException {
            return dext.mmioRead(memoryIndex, offset, width);
        }

        @Override
        void store(long offset, int width, long value) throws DextException {
            dext.mmioWrite(memoryIndex, offset, width, value);
        }
    }
}
