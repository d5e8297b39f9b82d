package vfio.user.server;

import org.osgi.annotation.versioning.ProviderType;

/**
 * How device code raises interrupts. The client chooses the interrupt mode with DEVICE_SET_IRQS, as
 * with the Linux vfio-pci driver: at most one of INTx, MSI and MSI-X has eventfds at a time (the
 * {@link #activeIndex() active index}). The server signals the client's eventfd for a vector unless
 * the vector is masked, in which case the interrupt stays pending and is delivered on unmask.
 *
 * <p>INTx is level-triggered and automasked: asserting the line signals once and masks INTx until
 * the client unmasks it; if the line is still asserted then, it signals again. INTx is not signalled
 * while the PCI COMMAND register's INTx-disable bit is set; MSI and MSI-X messages are dropped while
 * bus mastering is off (as PCI requires, so a driver must enable bus mastering first).
 *
 * <p>Index and vector numbers follow {@code linux/vfio.h} ({@code vfio.api.device.Pci}: 0 INTx, 1 MSI,
 * 2 MSI-X). Threading: any thread; each call is atomic and never blocks (eventfds are written
 * non-blocking).
 */
@ProviderType
public interface Interrupts {
    /**
     * Sends an edge-triggered interrupt: an MSI or MSI-X message. It is dropped if the index is not
     * the active one, the vector has no eventfd, or bus mastering is off.
     *
     * @param index  {@code Pci.IRQ_MSI} or {@code Pci.IRQ_MSIX}
     * @param vector the vector, below the count the device declared
     * @return whether the eventfd was signalled now (false if dropped or left pending)
     * @throws IllegalArgumentException for INTx (use {@link #setIntx}) or a vector the device lacks
     */
    boolean trigger(int index, int vector);

    /**
     * Sets the level of the INTx line.
     *
     * @param asserted true to assert (signals the client unless masked or disabled), false to
     *                 deassert (clears a pending INTx)
     * @throws IllegalStateException if the device has no INTx
     */
    void setIntx(boolean asserted);

    /** @return the INTx line level as device code last set it */
    boolean intxAsserted();

    /**
     * @return the IRQ index the client enabled with eventfds ({@code Pci.IRQ_INTX}, {@code
     *         Pci.IRQ_MSI} or {@code Pci.IRQ_MSIX}), or -1 if it enabled none
     */
    int activeIndex();

    /** @return whether the client masked that vector */
    boolean isMasked(int index, int vector);

    /** @return whether an interrupt of that vector waits for the client to unmask it */
    boolean isPending(int index, int vector);
}
