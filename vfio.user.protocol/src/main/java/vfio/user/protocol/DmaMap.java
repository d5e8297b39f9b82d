package vfio.user.protocol;

import java.nio.ByteBuffer;

/**
 * {@link Command#DMA_MAP} payload (32 bytes): argsz, flags, offset (into the fd), address (the DMA
 * address the server will use), size. One fd travels with it when the memory can be mapped.
 */
public record DmaMap(int flags, long offset, long address, long size) {
    public static final int SIZE = 32;
    public static final int FLAG_READ = 1;
    public static final int FLAG_WRITE = 2;

    public ByteBuffer encode() {
        ByteBuffer b = Wire.le(ByteBuffer.allocate(SIZE));
        b.putInt(SIZE).putInt(flags).putLong(offset).putLong(address).putLong(size);
        return b.flip();
    }

    /** @throws ProtocolException if short, or size/address/offset are negative, zero-sized or wrap around */
    public static DmaMap decode(ByteBuffer body) throws ProtocolException {
        ByteBuffer b = Wire.need(body, SIZE, "DMA_MAP");
        b.getInt();
        DmaMap m = new DmaMap(b.getInt(), b.getLong(), b.getLong(), b.getLong());
        if (m.size <= 0 || m.address < 0 || m.offset < 0 || m.address + m.size < m.address) {
            throw new ProtocolException("DMA_MAP of 0x" + Long.toHexString(m.address) + "+0x" + Long.toHexString(m.size)
                    + " at fd offset " + m.offset + " is not a valid range");
        }
        return m;
    }
}
