package vfio.api.device;

/**
 * The backend tried the operation and the kernel, server or dext refused it.
 *
 * <p>{@link #errno()} is the POSIX error number as the peer reported it (0 if the failure has none,
 * e.g. a malformed reply), {@link #errnoName()} its symbolic name ({@code EINVAL}), and {@link
 * #operation()} names what was attempted ({@code VFIO_DEVICE_SET_IRQS}, {@code REGION_READ}).
 */
public class BackendException extends DeviceException {
    private static final long serialVersionUID = 1L;

    private final int errno;
    private final String errnoName;
    private final String operation;

    /**
     * @param operation what was attempted, e.g. {@code VFIO_DEVICE_GET_REGION_INFO}
     * @param errno     the POSIX error number, or 0
     * @param errnoName its name, e.g. {@code ENOTTY}, or null if unknown
     * @param message   what happened and what to do
     */
    public BackendException(String operation, int errno, String errnoName, String message) {
        super(operation + (errno != 0 ? " failed with " + (errnoName != null ? errnoName : "errno " + errno) : " failed")
                + ": " + message);
        this.errno = errno;
        this.errnoName = errnoName;
        this.operation = operation;
    }

    /** As the four-argument constructor, with a cause. */
    public BackendException(String operation, int errno, String errnoName, String message, Throwable cause) {
        this(operation, errno, errnoName, message);
        initCause(cause);
    }

    /** @return the POSIX error number, 0 if none */
    public int errno() {
        return errno;
    }

    /** @return the error's symbolic name, e.g. {@code EINVAL}; null if unknown */
    public String errnoName() {
        return errnoName;
    }

    /** @return the operation that failed */
    public String operation() {
        return operation;
    }
}
