package vfio.api.device;

/**
 * An access or argument lies outside what the device has: an offset or length outside a region, a
 * region or IRQ index the device does not have, a vector past the IRQ count, a width other than
 * 1/2/4/8. Detected before any backend call; nothing was accessed.
 */
public class OutOfRangeException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public OutOfRangeException(String message) {
        super(message);
    }
}
