package vfio.api.backend;

import java.time.Duration;
import java.util.Map;

/**
 * What the core asks a backend to open.
 *
 * @param name    the device's configured name (for messages and thread names)
 * @param address the configured address
 * @param timeout how long one backend operation may take before the backend gives up with a {@link
 *                vfio.api.device.DeviceUnavailableException} (the peer is considered gone)
 * @param options backend-specific options from the device configuration (keys without the {@code
 *                option.} prefix, e.g. {@code iommu=group}); unknown keys must be rejected with a
 *                message naming them
 */
public record OpenRequest(String name, String address, Duration timeout, Map<String, String> options) {
    public OpenRequest {
        if (name == null || address == null || timeout == null) {
            throw new IllegalArgumentException("name, address and timeout are required");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
        options = Map.copyOf(options);
    }

    /** A request without options and a 5 s timeout. */
    public static OpenRequest of(String name, String address) {
        return new OpenRequest(name, address, Duration.ofSeconds(5), Map.of());
    }
}
