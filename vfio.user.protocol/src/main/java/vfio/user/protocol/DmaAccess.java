package vfio.user.protocol;

import java.nio.ByteBuffer;

/**
 * The fixed part of {@link Command#DMA_READ}/{@link Command#DMA_WRITE} (16 bytes): the DMA address
 * and the count; data follows where the message carries it.
 */
public record DmaAccess(long address, long count) {
    public static final int SIZE = 16;

    public void encode(ByteBuffer b) {
        ByteBuffer le = Wire.le(b);
        le.putLong(address).putLong(count);
        b.position(le.position());
    }

    /** Reads the fixed part, advancing the position; {@code count} must be in [0, maxCount]. */
    public static DmaAccess decode(ByteBuffer b, int maxCount, String what) throws ProtocolException {
        ByteBuffer le = Wire.need(b, SIZE, what);
        DmaAccess a = new DmaAccess(le.getLong(), le.getLong());
        b.position(le.position());
        if (a.count < 0 || a.count > maxCount) {
            throw new ProtocolException(what + " count " + Long.toUnsignedString(a.count) + " outside [0, " + maxCount + "]");
        }
        return a;
    }
}
