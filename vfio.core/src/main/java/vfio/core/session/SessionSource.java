package vfio.core.session;

import vfio.api.device.DeviceUnavailableException;

/**
 * Where a device's regions, IRQs and DMA buffers get the backend session to call. Implemented by
 * the device; every method may be called from any thread.
 */
public interface SessionSource {
    /** @return the device name, for messages */
    String deviceName();

    /**
     * Waits up to the device's access timeout for a bound session and {@linkplain
     * BackendSession#enter() enters} it; the caller must {@link BackendSession#exit() exit} it.
     *
     * @param operation what the caller is about to do, for the message of the exception; its
     *                  {@code toString()} is only called on failure
     * @return the entered session
     * @throws DeviceUnavailableException if no backend was bound within the access timeout, the
     *                                    device was removed, or the thread was interrupted
     */
    BackendSession enter(Object operation);

    /** @return the bound session without waiting or entering it, or null if there is none */
    BackendSession current();
}
