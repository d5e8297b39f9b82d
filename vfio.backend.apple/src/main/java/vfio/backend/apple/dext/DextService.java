package vfio.backend.apple.dext;

/**
 * One dext instance found by {@link DextConnector#findServices()} (an {@code io_service_t} whose
 * {@code IOUserClass} is {@code VFIOUserPCIDriver}), not yet opened. The caller closes it
 * ({@code IOObjectRelease}); closing does not affect connections opened from it.
 */
public interface DextService extends AutoCloseable {
    /** @return a description for messages (registry entry id, name) */
    String description();

    /** Releases the service handle. Idempotent, never throws. */
    @Override
    void close();
}
