package vfio.api.device;

import java.time.Instant;

/**
 * A device state change.
 *
 * @param device    the device
 * @param previous  the state before
 * @param current   the state now
 * @param backendId the backend now serving the device, or null when not bound
 * @param reason    why, in a sentence (e.g. "backend vfio.backend.user left")
 * @param time      when
 */
public record DeviceEvent(Device device, DeviceState previous, DeviceState current, String backendId,
        String reason, Instant time) {
}
