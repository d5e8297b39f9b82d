package vfio.backend.ioctl.internal.kernel;

import vfio.api.device.BackendException;
import vfio.posix.ErrnoException;

/** Turns failed system calls into the SPI's {@link BackendException}. */
public final class KernelErrors {
    private KernelErrors() {
    }

    /**
     * @param operation the ioctl or call name, e.g. {@code VFIO_DEVICE_SET_IRQS}
     * @param e         the failure
     * @param context   what was being done and, where known, what to do about it
     */
    public static BackendException backend(String operation, ErrnoException e, String context) {
        return new BackendException(operation, e.errno(), e.errnoName(), context + " (" + e.getMessage() + ")", e);
    }
}
