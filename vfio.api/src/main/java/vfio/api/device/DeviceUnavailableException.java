package vfio.api.device;

/**
 * The device has no backend (it is unbound or failed) and none came within the access timeout, or
 * the backend left while the operation was in flight. The operation did not take effect, except for
 * a write interrupted by a backend leaving, whose message says that it may have reached the device.
 * Retrying after the device is bound again is safe for reads.
 */
public class DeviceUnavailableException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public DeviceUnavailableException(String message) {
        super(message);
    }

    public DeviceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
