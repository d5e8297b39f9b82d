package vfio.user.protocol;

import java.nio.ByteBuffer;

/**
 * The 8-byte prefix {@code argsz, flags} of {@link Command#DEVICE_FEATURE} (flags: feature number
 * and GET/SET/PROBE bits) and {@code argsz, size} of {@link Command#MIG_DATA_READ}/{@link
 * Command#MIG_DATA_WRITE}; data follows.
 */
public record ArgszFlags(int argsz, int flags) {
    public static final int SIZE = 8;

    public void encode(ByteBuffer b) {
        ByteBuffer le = Wire.le(b);
        le.putInt(argsz).putInt(flags);
        b.position(le.position());
    }

    public static ArgszFlags decode(ByteBuffer b, String what) throws ProtocolException {
        ByteBuffer le = Wire.need(b, SIZE, what);
        ArgszFlags a = new ArgszFlags(le.getInt(), le.getInt());
        b.position(le.position());
        return a;
    }
}
