package vfio.user.protocol;

import java.nio.ByteBuffer;

/** {@link Command#DMA_UNMAP} payload (24 bytes): argsz, flags, address, size. */
public record DmaUnmap(int flags, long address, long size) {
    public static final int SIZE = 24;
    /** Unmap every mapping (address and size must be 0). */
    public static final int FLAG_ALL = 2;

    public ByteBuffer encode() {
        ByteBuffer b = Wire.le(ByteBuffer.allocate(SIZE));
        b.putInt(SIZE).putInt(flags).putLong(address).putLong(size);
        return b.flip();
    }

    public static DmaUnmap decode(ByteBuffer body) throws ProtocolException {
        ByteBuffer b = Wire.need(body, SIZE, "DMA_UNMAP");
        b.getInt();
        return new DmaUnmap(b.getInt(), b.getLong(), b.getLong());
    }
}
