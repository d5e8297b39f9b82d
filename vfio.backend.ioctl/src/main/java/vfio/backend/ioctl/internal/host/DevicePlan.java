package vfio.backend.ioctl.internal.host;

import java.nio.file.Path;

/**
 * How to open one device: what {@link HostInspector} found in sysfs and {@code /dev}.
 *
 * @param address    the PCI address
 * @param driver     the bound driver's name (vfio-pci or a vfio-pci variant driver)
 * @param group      the IOMMU group number
 * @param api        the API to use
 * @param groupNode  {@code /dev/vfio/N} or {@code /dev/vfio/noiommu-N} (group API), else null
 * @param container  {@code /dev/vfio/vfio} (group API), else null
 * @param iommuDev   {@code /dev/iommu} (iommufd API), else null
 * @param deviceFile {@code /dev/vfio/devices/vfioX} (iommufd API), else null
 * @param noIommu    whether the group is a no-IOMMU group (DMA is not translated or isolated)
 */
public record DevicePlan(PciAddress address, String driver, int group, Api api, Path groupNode, Path container,
        Path iommuDev, Path deviceFile, boolean noIommu) {

    /** The kernel API a plan uses. */
    public enum Api {
        GROUP, IOMMUFD
    }

    /** @return a sentence for the shell: which API, through which files */
    public String describe() {
        if (api == Api.IOMMUFD) {
            return "iommufd: device file " + deviceFile + " attached to an IO address space of " + iommuDev
                    + " (IOMMU group " + group + ")";
        }
        if (noIommu) {
            return "legacy group API in UNSAFE no-IOMMU mode: " + groupNode + " (no DMA isolation; open needs the option"
                    + " noiommu=unsafe)";
        }
        return "legacy group API: IOMMU group " + group + " (" + groupNode + ") in a type1v2 container " + container;
    }
}
