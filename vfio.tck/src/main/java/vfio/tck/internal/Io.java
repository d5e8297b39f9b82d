package vfio.tck.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import vfio.api.backend.DeviceIoOps;
import vfio.api.device.DeviceException;

/**
 * Region accesses as the kit makes them. Values are encoded and decoded little-endian by hand, byte
 * by byte, and the buffers passed to the backend keep Java's default big-endian order, so a backend
 * that relies on the buffer's byte order instead of writing bytes gets caught. Every access checks
 * that the backend moved the buffer's position by exactly the length.
 */
final class Io {
    private Io() {
    }

    /** @return the {@code width}-byte little-endian value at {@code offset} */
    static long read(DeviceIoOps ops, int region, long offset, int width) {
        return decode(readBytes(ops, region, offset, width));
    }

    /** Writes the low {@code width} bytes of {@code value}, little-endian. */
    static void write(DeviceIoOps ops, int region, long offset, int width, long value, boolean posted) {
        writeBytes(ops, region, offset, encode(value, width), posted);
    }

    static byte[] readBytes(DeviceIoOps ops, int region, long offset, int length) {
        ByteBuffer b = ByteBuffer.allocate(length);
        ops.regionRead(region, offset, b);
        if (b.position() != length) {
            throw new Problem("regionRead(" + region + ", " + Describe.hex(offset) + ") of " + length
                    + " bytes advanced the buffer by " + b.position() + " bytes; it must transfer all of them");
        }
        return b.array();
    }

    static void writeBytes(DeviceIoOps ops, int region, long offset, byte[] data, boolean posted) {
        ByteBuffer b = ByteBuffer.wrap(data);
        ops.regionWrite(region, offset, b, posted);
        if (b.hasRemaining()) {
            throw new Problem("regionWrite(" + region + ", " + Describe.hex(offset) + ") of " + data.length
                    + " bytes left " + b.remaining() + " bytes in the buffer; it must consume all of them");
        }
    }

    static long decode(byte[] b) {
        long v = 0;
        for (int i = b.length - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }

    static byte[] encode(long value, int width) {
        byte[] b = new byte[width];
        for (int i = 0; i < width; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        return b;
    }

    /** @return {@code value} cut to {@code width} bytes */
    static long mask(long value, int width) {
        return width == 8 ? value : value & ((1L << (8 * width)) - 1);
    }

    /** @return a value whose {@code width} bytes are all different and none is 0 or 0xff */
    static long pattern(int width) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        int first = 1 + r.nextInt(0xf0);
        long v = 0;
        for (int i = 0; i < width; i++) {
            v |= (long) ((first + i * 7) % 0xfe + 1) << (8 * i);
        }
        return v;
    }

    /** @return {@code n} random bytes */
    static byte[] random(int n) {
        byte[] b = new byte[n];
        ThreadLocalRandom.current().nextBytes(b);
        return b;
    }

    /**
     * Runs a call that must be refused.
     *
     * @return null if it threw a {@link DeviceException} or {@link IllegalArgumentException} with a
     *         message; otherwise what went wrong
     */
    static String refused(String what, Runnable call) {
        try {
            call.run();
            return what + " succeeded; it must be refused with an exception";
        } catch (DeviceException | IllegalArgumentException e) {
            if (e.getMessage() == null || e.getMessage().isBlank()) {
                return what + " was refused with " + e.getClass().getName() + " without a message; say what is wrong";
            }
            return null;
        } catch (RuntimeException e) {
            return what + " threw " + Describe.exception(e)
                    + " instead of refusing with a vfio.api.device exception or IllegalArgumentException";
        }
    }

    /** Runs a call that must throw exactly {@code type}. @return null if it did, else what went wrong */
    static String throwsExactly(String what, Class<? extends RuntimeException> type, Runnable call) {
        try {
            call.run();
            return what + " succeeded; it must throw " + type.getSimpleName();
        } catch (RuntimeException e) {
            if (!type.isInstance(e)) {
                return what + " threw " + Describe.exception(e) + " instead of " + type.getName();
            }
            return null;
        }
    }
}
