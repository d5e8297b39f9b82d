package vfio.user.protocol;

import java.nio.ByteBuffer;

/**
 * The fixed part of {@link Command#REGION_READ} and {@link Command#REGION_WRITE} requests and replies
 * (16 bytes): offset, region, count; data follows where the message carries it.
 */
public record RegionAccess(long offset, int region, int count) {
    public static final int SIZE = 16;

    /** Writes the fixed part at the buffer's position, advancing it. */
    public void encode(ByteBuffer b) {
        ByteBuffer le = Wire.le(b);
        le.putLong(offset).putInt(region).putInt(count);
        b.position(le.position());
    }

    /**
     * Reads the fixed part, advancing the position.
     *
     * @param maxCount largest count accepted (the negotiated max_data_xfer_size)
     */
    public static RegionAccess decode(ByteBuffer b, int maxCount, String what) throws ProtocolException {
        ByteBuffer le = Wire.need(b, SIZE, what);
        RegionAccess a = new RegionAccess(le.getLong(), le.getInt(), le.getInt());
        b.position(le.position());
        if (a.offset < 0 || a.count < 0 || a.count > maxCount) {
            throw new ProtocolException(what + " offset " + Long.toUnsignedString(a.offset) + " count "
                    + Integer.toUnsignedString(a.count) + " is invalid (count limit " + maxCount + ")");
        }
        return a;
    }
}
