package vfio.user.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The {@link Command#VERSION} payload: u16 major, u16 minor, then the capabilities JSON terminated
 * by a NUL byte (optional).
 */
public record VersionPayload(int major, int minor, Capabilities capabilities) {
    /** The protocol version this implementation speaks. */
    public static final int MAJOR = 0;
    public static final int MINOR = 1;
    /** Longest JSON accepted. */
    public static final int MAX_JSON = 64 * 1024;

    /** @return the encoded payload */
    public ByteBuffer encode() {
        byte[] json = capabilities.toJson().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = Wire.le(ByteBuffer.allocate(4 + json.length + 1));
        b.putShort((short) major).putShort((short) minor).put(json).put((byte) 0);
        return b.flip();
    }

    /** Decodes and validates a VERSION payload. */
    public static VersionPayload decode(ByteBuffer body) throws ProtocolException {
        ByteBuffer b = Wire.need(body, 4, "VERSION");
        int major = Short.toUnsignedInt(b.getShort());
        int minor = Short.toUnsignedInt(b.getShort());
        int len = b.remaining();
        if (len > MAX_JSON) {
            throw new ProtocolException("VERSION JSON is " + len + " bytes, the limit is " + MAX_JSON);
        }
        byte[] json = new byte[len];
        b.get(json);
        int end = 0;
        while (end < len && json[end] != 0) {
            end++;
        }
        return new VersionPayload(major, minor, Capabilities.parse(new String(json, 0, end, StandardCharsets.UTF_8)));
    }
}
