package vfio.user.protocol;

import java.nio.ByteBuffer;

/**
 * The fixed part of {@link Command#DEVICE_SET_IRQS} (20 bytes, {@code struct vfio_irq_set} without
 * data): argsz, flags, index, start, count. Bool data follows as {@code count} bytes; eventfds travel
 * as SCM_RIGHTS.
 */
public record SetIrqs(int argsz, int flags, int index, int start, int count) {
    public static final int SIZE = 20;
    public static final int DATA_NONE = 1;
    public static final int DATA_BOOL = 1 << 1;
    public static final int DATA_EVENTFD = 1 << 2;
    public static final int ACTION_MASK = 1 << 3;
    public static final int ACTION_UNMASK = 1 << 4;
    public static final int ACTION_TRIGGER = 1 << 5;
    static final int DATA_TYPES = DATA_NONE | DATA_BOOL | DATA_EVENTFD;
    static final int ACTION_TYPES = ACTION_MASK | ACTION_UNMASK | ACTION_TRIGGER;

    public void encode(ByteBuffer b) {
        ByteBuffer le = Wire.le(b);
        le.putInt(argsz).putInt(flags).putInt(index).putInt(start).putInt(count);
        b.position(le.position());
    }

    /** @return the data flag (exactly one of DATA_*) */
    public int dataType() {
        return flags & DATA_TYPES;
    }

    /** @return the action flag (exactly one of ACTION_*) */
    public int actionType() {
        return flags & ACTION_TYPES;
    }

    /**
     * Reads and validates: exactly one data and one action flag, no other bits, start+count without
     * overflow.
     */
    public static SetIrqs decode(ByteBuffer b) throws ProtocolException {
        ByteBuffer le = Wire.need(b, SIZE, "DEVICE_SET_IRQS");
        SetIrqs s = new SetIrqs(le.getInt(), le.getInt(), le.getInt(), le.getInt(), le.getInt());
        b.position(le.position());
        if (Integer.bitCount(s.dataType()) != 1 || Integer.bitCount(s.actionType()) != 1
                || (s.flags & ~(DATA_TYPES | ACTION_TYPES)) != 0) {
            throw new ProtocolException("DEVICE_SET_IRQS flags 0x" + Integer.toHexString(s.flags)
                    + " must hold exactly one DATA_ and one ACTION_ flag");
        }
        if (s.index < 0 || s.start < 0 || s.count < 0 || s.start + s.count < s.start) {
            throw new ProtocolException("DEVICE_SET_IRQS index " + s.index + " start " + s.start + " count " + s.count
                    + " is invalid");
        }
        return s;
    }
}
