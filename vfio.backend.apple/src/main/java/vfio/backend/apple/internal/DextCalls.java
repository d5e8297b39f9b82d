package vfio.backend.apple.internal;

import vfio.api.device.BackendException;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceUnavailableException;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.KernReturn;

/**
 * Translation of dext failures into the device API's exceptions: a dext or device that is gone
 * becomes {@link DeviceUnavailableException} (the core then closes and rebinds), any other refusal a
 * {@link BackendException} with the errno that means the same on Linux and macOS (0 if none does)
 * and the {@code kern_return_t} in the message.
 */
final class DextCalls {
    /** A dext call. */
    @FunctionalInterface
    interface Call<T> {
        T run() throws DextException;
    }

    /** A dext call without a result. */
    @FunctionalInterface
    interface VoidCall {
        void run() throws DextException;
    }

    private DextCalls() {
    }

    /** Runs {@code call}, translating a failure for device {@code device}. */
    static <T> T call(String device, Call<T> call) {
        try {
            return call.run();
        } catch (DextException e) {
            throw translate(device, e);
        }
    }

    /** Runs {@code call}, translating a failure for device {@code device}. */
    static void run(String device, VoidCall call) {
        try {
            call.run();
        } catch (DextException e) {
            throw translate(device, e);
        }
    }

    /** @return the API exception for a dext failure */
    static DeviceException translate(String device, DextException e) {
        if (e.meansGone()) {
            return new DeviceUnavailableException(device + ": the VFIOUserPCIDriver dext stopped answering ("
                    + e.getMessage() + "); check that the dext is still active (systemextensionsctl list) and the device present", e);
        }
        int errno = errno(e.kernReturn());
        return new BackendException(e.selector().dextName(), errno, errnoName(errno),
                device + ": the dext returned " + KernReturn.describe(e.kernReturn()) + hint(e.kernReturn())
                        + " [" + e.getMessage() + "]", e);
    }

    private static String hint(int kr) {
        return switch (kr) {
            case KernReturn.NOT_PERMITTED, KernReturn.NOT_PRIVILEGED ->
                "; the process needs the DriverKit user-client entitlement the dext names";
            case KernReturn.EXCLUSIVE_ACCESS, KernReturn.BUSY -> "; another client holds the device";
            case KernReturn.NO_RESOURCES, KernReturn.NO_SPACE, KernReturn.NO_MEMORY ->
                "; the platform limits DMA registrations to about 1.5 GB and 64k regions";
            default -> "";
        };
    }

    /** @return the errno with the same meaning on Linux and macOS, or 0 */
    static int errno(int kr) {
        return switch (kr) {
            case KernReturn.NO_MEMORY, KernReturn.NO_RESOURCES, KernReturn.KERN_RESOURCE_SHORTAGE -> 12; // ENOMEM
            case KernReturn.BAD_ARGUMENT, KernReturn.KERN_INVALID_ARGUMENT, KernReturn.NOT_ALIGNED -> 22; // EINVAL
            case KernReturn.NOT_PRIVILEGED, KernReturn.NOT_PERMITTED -> 1; // EPERM
            case KernReturn.EXCLUSIVE_ACCESS, KernReturn.BUSY -> 16; // EBUSY
            case KernReturn.NO_SPACE, KernReturn.KERN_NO_SPACE -> 28; // ENOSPC
            case KernReturn.IO_ERROR, KernReturn.DEVICE_ERROR, KernReturn.DMA_ERROR -> 5; // EIO
            case KernReturn.NOT_FOUND -> 2; // ENOENT
            case KernReturn.NOT_READABLE, KernReturn.NOT_WRITABLE -> 13; // EACCES
            case KernReturn.KERN_INVALID_ADDRESS, KernReturn.VM_ERROR -> 14; // EFAULT
            default -> 0;
        };
    }

    private static String errnoName(int errno) {
        return switch (errno) {
            case 1 -> "EPERM";
            case 2 -> "ENOENT";
            case 5 -> "EIO";
            case 12 -> "ENOMEM";
            case 13 -> "EACCES";
            case 14 -> "EFAULT";
            case 16 -> "EBUSY";
            case 22 -> "EINVAL";
            case 28 -> "ENOSPC";
            default -> null;
        };
    }
}
