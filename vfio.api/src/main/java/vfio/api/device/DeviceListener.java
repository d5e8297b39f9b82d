package vfio.api.device;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Whiteboard service told about device state changes: register one and the core calls it for every
 * device (use the {@link Device#PROP_NAME} in {@link DeviceEvent#device()} to filter). Calls come
 * from the core's binding thread, in order per device; a listener must not block.
 */
@ConsumerType
@FunctionalInterface
public interface DeviceListener {
    /** @param event what changed */
    void deviceChanged(DeviceEvent event);
}
