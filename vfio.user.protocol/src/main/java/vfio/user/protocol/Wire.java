package vfio.user.protocol;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Little-endian views and length checks shared by the payload decoders. */
final class Wire {
    private Wire() {
    }

    static ByteBuffer le(ByteBuffer b) {
        return b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    static ByteBuffer need(ByteBuffer b, int size, String what) throws ProtocolException {
        if (b.remaining() < size) {
            throw new ProtocolException(what + " payload is " + b.remaining() + " bytes, " + size + " expected");
        }
        return le(b);
    }
}
