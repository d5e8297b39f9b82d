package vfio.api.device;

/**
 * What a device is, as {@code struct vfio_device_info} describes it.
 *
 * @param flags      {@link #FLAG_RESET}, {@link #FLAG_PCI} and the other {@code VFIO_DEVICE_FLAGS_*}
 *                   bits, as reported by the backend
 * @param numRegions number of region indexes (9 for a PCI device: BAR0-5, ROM, config, VGA)
 * @param numIrqs    number of IRQ indexes (5 for a PCI device: INTx, MSI, MSI-X, ERR, REQ)
 */
public record DeviceInfo(int flags, int numRegions, int numIrqs) {
    /** The device supports {@code reset}. */
    public static final int FLAG_RESET = 1;
    /** The device is a PCI device: region and IRQ indexes follow {@link Pci}. */
    public static final int FLAG_PCI = 1 << 1;

    /**
     * @throws IllegalArgumentException if a count is negative
     */
    public DeviceInfo {
        if (numRegions < 0 || numIrqs < 0) {
            throw new IllegalArgumentException(
                    "negative count in device info: regions=" + numRegions + " irqs=" + numIrqs);
        }
    }

    /** @return whether the device can be reset */
    public boolean canReset() {
        return (flags & FLAG_RESET) != 0;
    }

    /** @return whether this is a PCI device */
    public boolean isPci() {
        return (flags & FLAG_PCI) != 0;
    }
}
