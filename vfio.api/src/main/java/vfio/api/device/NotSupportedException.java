package vfio.api.device;

/**
 * The device or its backend does not offer this operation (for example reset on a device without
 * {@link DeviceInfo#FLAG_RESET}, a device feature the backend does not know, region map on a backend
 * that cannot map). Nothing was changed.
 */
public class NotSupportedException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public NotSupportedException(String message) {
        super(message);
    }
}
