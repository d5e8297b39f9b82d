package vfio.backend.ioctl.internal.host;

import java.util.Locale;

/** Which kernel API the device option {@code iommu=} asks for. */
public enum IommuChoice {
    /** The iommufd device file where the kernel offers it, else the group API. */
    AUTO,
    /** The legacy container/group API ({@code /dev/vfio/vfio} and {@code /dev/vfio/N}). */
    GROUP,
    /** The iommufd API ({@code /dev/iommu} and {@code /dev/vfio/devices/vfioX}). */
    IOMMUFD;

    /**
     * @param value {@code auto}, {@code group} or {@code iommufd} (case-insensitive)
     * @throws IllegalArgumentException naming the accepted values
     */
    public static IommuChoice parse(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "group" -> GROUP;
            case "iommufd" -> IOMMUFD;
            default -> throw new IllegalArgumentException(
                    "option iommu=" + value + " is not understood: use iommu=auto, iommu=group or iommu=iommufd");
        };
    }
}
