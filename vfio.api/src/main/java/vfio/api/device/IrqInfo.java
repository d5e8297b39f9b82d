package vfio.api.device;

/**
 * An interrupt index of a device, as {@code struct vfio_irq_info} describes it.
 *
 * @param index the IRQ index (see {@link Pci} for PCI devices)
 * @param flags {@link #FLAG_EVENTFD}, {@link #FLAG_MASKABLE}, {@link #FLAG_AUTOMASKED}, {@link
 *              #FLAG_NORESIZE}
 * @param count number of vectors at this index (0 if the device has none)
 */
public record IrqInfo(int index, int flags, int count) {
    /** Vectors can signal an event object (an eventfd on Linux). */
    public static final int FLAG_EVENTFD = 1;
    /** Vectors can be masked and unmasked. */
    public static final int FLAG_MASKABLE = 1 << 1;
    /** The device masks a vector when it fires (level-triggered INTx); the driver unmasks it. */
    public static final int FLAG_AUTOMASKED = 1 << 2;
    /** The set of enabled vectors cannot be changed without disabling all of them first. */
    public static final int FLAG_NORESIZE = 1 << 3;

    /**
     * @throws IllegalArgumentException if {@code index} or {@code count} is negative
     */
    public IrqInfo {
        if (index < 0 || count < 0) {
            throw new IllegalArgumentException("bad IRQ info: index=" + index + " count=" + count);
        }
    }

    /** @return whether every bit of {@code flag} is set */
    public boolean has(int flag) {
        return (flags & flag) == flag;
    }
}
