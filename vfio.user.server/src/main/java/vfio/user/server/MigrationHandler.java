package vfio.user.server;

/**
 * The device side of live migration (VFIO migration v2, STOP_COPY flavour). With a handler, the
 * server offers {@code VFIO_DEVICE_FEATURE_MIGRATION} and runs the {@code MIG_DEVICE_STATE} state
 * machine (RUNNING, STOP, STOP_COPY, RESUMING, ERROR); the state bytes travel through {@code
 * MIG_DATA_READ}/{@code MIG_DATA_WRITE}.
 *
 * <p>Threading: called on the server's connection thread while the client waits for the state
 * change to complete.
 */
public interface MigrationHandler {
    /**
     * The device stops changing its state and stops raising interrupts and doing DMA (RUNNING to
     * STOP). Work it had started may be kept, to be finished after {@link #resume()} or on the
     * destination.
     */
    default void stop() {
    }

    /** The device runs again (STOP to RUNNING). */
    default void resume() {
    }

    /**
     * Captures the stopped device's state (STOP to STOP_COPY).
     *
     * @return the state, owned by the server afterwards; at most the server's configured migration
     *         size limit
     */
    byte[] save();

    /**
     * Loads a state captured by {@link #save()} on another (or this) instance (RESUMING to STOP).
     *
     * @param state the bytes the client wrote
     * @throws IllegalArgumentException if the bytes are not a valid state; the server then reports
     *                                  the failure to the client and enters the ERROR state, from
     *                                  which only a device reset recovers
     */
    void load(byte[] state);
}
