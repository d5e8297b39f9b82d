package vfio.backend.apple.sim;

/**
 * The device behind a simulated function's BARs. The BARs are shared memory; the model keeps its
 * registers in them and reacts to stores.
 *
 * <p>The model sees the stores that reach the device through the dext (MMIOWrite), which is every
 * store to a BAR that is not {@linkplain SimulatedBar#mappable() mappable}. Stores through a mapping
 * land in the memory without the model noticing them, as with a real device whose registers are
 * plain memory.
 *
 * <p><b>Threading:</b> {@link #written} and {@link #reset} are called with {@link DeviceContext#lock()}
 * held and must not block; work that takes time runs on the model's own thread, which takes the lock
 * to update registers and raise interrupts.
 */
public interface DeviceModel {
    /** Called once, before any access, with the function the model lives in. */
    void attach(DeviceContext device);

    /**
     * A store reached BAR {@code bar} (it is already in the BAR memory).
     *
     * @param width 1, 2, 4 or 8 bytes
     */
    void written(int bar, long offset, int width, long value);

    /** ResetDevice: return to the power-on state. */
    void reset();

    /** The simulated dext is closing: stop threads. Must not block for long. */
    void close();
}
