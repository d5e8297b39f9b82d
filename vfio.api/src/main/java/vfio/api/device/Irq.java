package vfio.api.device;

import org.osgi.annotation.versioning.ProviderType;

/**
 * One IRQ index of a {@link Device} (INTx, MSI, MSI-X, ...). Enabling vectors routes each of them to
 * an event object the core owns; the core's dispatcher thread calls the handler when the device
 * signals. The enabled configuration survives rebinds: the core applies it again to the new backend.
 *
 * <p><b>Threading:</b> any thread. Handlers run on the core's single dispatcher thread, one at a
 * time; a handler must not block (hand long work to an executor).
 *
 * <p><b>Errors:</b> vectors outside {@code [0, count)} throw {@link OutOfRangeException}; an index
 * that lacks a capability (mask on a non-maskable index) throws {@link NotSupportedException}; an
 * unbound device throws {@link DeviceUnavailableException} after the access timeout; a backend
 * refusal throws {@link BackendException}.
 */
@ProviderType
public interface Irq {
    /** @return the IRQ index */
    int index();

    /** @return {@code intx}, {@code msi}, {@code msix}, ... */
    String name();

    /** @return the IRQ info as the current (or last) backend reported it */
    IrqInfo info();

    /**
     * Enables vectors {@code 0..count-1} of this index and routes them to {@code handler}, replacing
     * any previous enable of this index.
     *
     * @param count   number of vectors, 1..{@link IrqInfo#count()}
     * @param handler called with the vector number each time a vector fires
     */
    void enable(int count, IrqHandler handler);

    /** Disables every vector of this index; no handler is called afterwards. Idempotent. */
    void disable();

    /** @return the number of vectors currently enabled (0 if disabled) */
    int enabledCount();

    /** Masks {@code vector}: the device's signals are held back until {@link #unmask}. */
    void mask(int vector);

    /** Unmasks {@code vector} (after an automasked INTx, to receive the next one). */
    void unmask(int vector);

    /**
     * Fires {@code vector} from software, as if the device had signalled it (the VFIO {@code
     * ACTION_TRIGGER} with no data); useful to test a handler path.
     */
    void trigger(int vector);

    /** @return how many times {@code vector}'s handler has been called since the first enable */
    long count(int vector);
}
