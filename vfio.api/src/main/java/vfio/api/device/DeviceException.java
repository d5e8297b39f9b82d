package vfio.api.device;

/**
 * Base of every exception the device API and the backend SPI throw. Unchecked, because register
 * accesses are too frequent for checked exceptions; every method documents which subclasses it
 * throws. Messages name the device, region or operation and say what to do.
 */
public class DeviceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DeviceException(String message) {
        super(message);
    }

    public DeviceException(String message, Throwable cause) {
        super(message, cause);
    }
}
