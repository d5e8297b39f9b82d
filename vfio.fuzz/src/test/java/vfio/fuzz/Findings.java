package vfio.fuzz;

import vfio.api.device.DeviceException;
import vfio.user.protocol.ProtocolException;

/**
 * What a decoder of untrusted bytes may throw. A decoder that refuses its input throws a documented
 * exception ({@link DeviceException} and its subtypes from the API, {@link ProtocolException} from
 * the vfio-user protocol library); anything else (a NullPointerException, an exception from
 * ByteBuffer, an arithmetic overflow) escapes the fuzz test and Jazzer reports it as a finding.
 */
public final class Findings {
    private Findings() {
    }

    /** A decoding step that may throw its documented exceptions. */
    @FunctionalInterface
    public interface Decoding {
        void run() throws ProtocolException;
    }

    /** Runs {@code d}; a documented refusal is swallowed, every other throwable propagates. */
    public static void refusalAllowed(Decoding d) {
        try {
            d.run();
        } catch (DeviceException | ProtocolException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("a refusal without a message", expected);
            }
        }
    }
}
