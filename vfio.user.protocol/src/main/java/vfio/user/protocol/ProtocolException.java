package vfio.user.protocol;

import java.io.IOException;

/**
 * The peer broke the protocol: a malformed, oversized, truncated or unexpected message. The stream
 * can no longer be trusted; the connection must be closed.
 */
public final class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(String message) {
        super(message);
    }
}
