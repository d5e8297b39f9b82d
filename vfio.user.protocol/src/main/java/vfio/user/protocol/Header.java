package vfio.user.protocol;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The 16-byte header of every message.
 *
 * @param id      message id, chosen by the sender of a command and echoed in its reply (u16)
 * @param command command number (u16); see {@link Command}
 * @param size    whole message size including this header, in bytes
 * @param flags   {@link #TYPE_COMMAND} or {@link #TYPE_REPLY} in bits 0-3, plus {@link #NO_REPLY},
 *                {@link #ERROR}
 * @param error   errno of a failed command, in a reply with {@link #ERROR}
 */
public record Header(int id, int command, int size, int flags, int error) {
    public static final int SIZE = 16;
    public static final int TYPE_COMMAND = 0;
    public static final int TYPE_REPLY = 1;
    public static final int TYPE_MASK = 0xf;
    public static final int NO_REPLY = 0x10;
    public static final int ERROR = 0x20;

    /** @return whether this is a reply (else a command) */
    public boolean isReply() {
        return (flags & TYPE_MASK) == TYPE_REPLY;
    }

    /** @return whether this reply reports a failure ({@link #error()} holds the errno) */
    public boolean isError() {
        return (flags & ERROR) != 0;
    }

    /** @return whether the sender of this command wants no reply */
    public boolean noReply() {
        return (flags & NO_REPLY) != 0;
    }

    /** @return the body size ({@link #size()} minus the header) */
    public int bodySize() {
        return size - SIZE;
    }

    /** @return the command, or null if the number is unknown */
    public Command commandOrNull() {
        return Command.of(command);
    }

    /** A command header. */
    public static Header command(int id, Command c, int bodySize, boolean noReply) {
        return new Header(id & 0xffff, c.code(), SIZE + bodySize, TYPE_COMMAND | (noReply ? NO_REPLY : 0), 0);
    }

    /** A success reply to {@code request}. */
    public static Header reply(Header request, int bodySize) {
        return new Header(request.id, request.command, SIZE + bodySize, TYPE_REPLY, 0);
    }

    /** An error reply to {@code request} carrying {@code errno}. */
    public static Header errorReply(Header request, int errno) {
        return new Header(request.id, request.command, SIZE, TYPE_REPLY | ERROR, errno);
    }

    /** Writes the header at the buffer's position, advancing it. */
    public void encode(ByteBuffer b) {
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        le.putShort((short) id).putShort((short) command).putInt(size).putInt(flags).putInt(error);
        b.position(le.position());
    }

    /**
     * Reads and validates a header.
     *
     * @param maxSize the largest message accepted
     * @throws ProtocolException if the size is below 16 or above {@code maxSize}, or the type is neither
     *                           command nor reply
     */
    public static Header decode(ByteBuffer b, int maxSize) throws ProtocolException {
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        Header h = new Header(Short.toUnsignedInt(le.getShort()), Short.toUnsignedInt(le.getShort()), le.getInt(),
                le.getInt(), le.getInt());
        b.position(le.position());
        if (Integer.compareUnsigned(h.size, SIZE) < 0 || Integer.compareUnsigned(h.size, maxSize) > 0) {
            throw new ProtocolException("message size " + Integer.toUnsignedString(h.size) + " outside [" + SIZE + ", "
                    + maxSize + "] (command " + h.command + ", id " + h.id + ")");
        }
        int type = h.flags & TYPE_MASK;
        if (type != TYPE_COMMAND && type != TYPE_REPLY) {
            throw new ProtocolException("message type " + type + " is neither command nor reply (command " + h.command + ")");
        }
        return h;
    }

    @Override
    public String toString() {
        Command c = commandOrNull();
        return (isReply() ? "reply " : "command ") + (c != null ? c : "#" + command) + " id=" + id + " size=" + size
                + (isError() ? " error=" + error : "") + (noReply() ? " no-reply" : "");
    }
}
