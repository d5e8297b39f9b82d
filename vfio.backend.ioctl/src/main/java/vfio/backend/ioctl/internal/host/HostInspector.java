package vfio.backend.ioctl.internal.host;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Finds out, from sysfs and {@code /dev} alone, whether and how a PCI device can be opened through
 * VFIO, and says what to do when it cannot.
 *
 * <p>Cheap and side-effect free, as {@code BackendFactory.match} must be: it reads sysfs links and
 * directories and checks device nodes with stat and access(2); it opens no device node (opening a
 * group can block or take it away from another process). The roots are injectable so the logic can
 * be tested against a fake tree.
 *
 * <p>Thread-safe (stateless apart from the two roots).
 */
public final class HostInspector {
    /**
     * Drivers that leave an IOMMU group viable for VFIO besides the vfio-pci family: the kernel lets
     * devices bound to them share a group with a VFIO user (they do not do DMA on their own).
     */
    private static final Set<String> GROUP_SAFE_DRIVERS = Set.of("pci-stub", "pcieport");

    private final Path sysfs;
    private final Path dev;

    /**
     * @param sysfs the sysfs root, normally {@code /sys}
     * @param dev   the device node root, normally {@code /dev}
     */
    public HostInspector(Path sysfs, Path dev) {
        this.sysfs = sysfs;
        this.dev = dev;
    }

    /** What the inspection found. */
    public sealed interface Result {
        /** The device can be opened as the plan says. */
        record Usable(DevicePlan plan) implements Result {
        }

        /** The device cannot be opened; {@code reason} says why and what to do. */
        record Unusable(String reason) implements Result {
        }
    }

    /**
     * @param address the device
     * @param choice  which API the configuration asks for
     * @return a plan, or the reason there is none
     */
    public Result inspect(PciAddress address, IommuChoice choice) {
        String bdf = address.bdf();
        Path device = sysfs.resolve("bus/pci/devices").resolve(bdf);
        if (!Files.isDirectory(device)) {
            return no("no PCI device " + bdf + " (" + device + " does not exist): check the address with lspci -D");
        }
        Path vfioDir = dev.resolve("vfio");
        String driver = linkName(device.resolve("driver"));
        if (!isVfioDriver(driver)) {
            String load = Files.isDirectory(vfioDir) ? "" : "modprobe vfio-pci; ";
            String unbind = driver == null ? "" : "echo " + bdf + " > " + device.resolve("driver/unbind") + "; ";
            return no(bdf + " is " + (driver == null ? "not bound to any driver" : "bound to " + driver)
                    + ", not vfio-pci: as root run " + load + unbind + "echo vfio-pci > " + device.resolve("driver_override")
                    + "; echo " + bdf + " > " + sysfs.resolve("bus/pci/drivers_probe"));
        }
        if (!Files.isDirectory(vfioDir)) {
            return no("VFIO is not available: " + vfioDir + " does not exist (load the modules: modprobe vfio-pci)");
        }
        String groupName = linkName(device.resolve("iommu_group"));
        if (groupName == null) {
            return no(bdf + " has no IOMMU group: enable the IOMMU (intel_iommu=on or amd_iommu=on on the kernel command"
                    + " line) or, without isolation, load vfio with enable_unsafe_noiommu_mode=1");
        }
        int group;
        try {
            group = Integer.parseInt(groupName);
        } catch (NumberFormatException e) {
            return no(bdf + " has an IOMMU group named '" + groupName + "', which is not a number");
        }
        List<String> blockers = groupBlockers(group, bdf);
        if (!blockers.isEmpty()) {
            return no("IOMMU group " + group + " of " + bdf + " is not viable: " + String.join(", ", blockers)
                    + "; bind every device of " + sysfs.resolve("kernel/iommu_groups/" + group + "/devices")
                    + " to vfio-pci (or unbind it) as for " + bdf);
        }

        Path groupNode = vfioDir.resolve(String.valueOf(group));
        Path noIommuNode = vfioDir.resolve("noiommu-" + group);
        boolean noIommu = !exists(groupNode) && exists(noIommuNode);
        Path cdev = deviceFile(device);
        Path iommu = dev.resolve("iommu");
        boolean iommufdOffered = cdev != null && exists(iommu) && !noIommu;

        DevicePlan.Api api;
        switch (choice) {
            case IOMMUFD -> {
                if (!iommufdOffered) {
                    return no("iommu=iommufd was asked for, but " + (noIommu ? bdf + " is in a no-IOMMU group"
                            : cdev == null ? "the kernel has no VFIO device file for " + bdf
                                    + " (it needs CONFIG_VFIO_DEVICE_CDEV)"
                                    : iommu + " does not exist (the kernel needs CONFIG_IOMMUFD)")
                            + "; use iommu=group or iommu=auto");
                }
                api = DevicePlan.Api.IOMMUFD;
            }
            case GROUP -> api = DevicePlan.Api.GROUP;
            default -> api = iommufdOffered ? DevicePlan.Api.IOMMUFD : DevicePlan.Api.GROUP;
        }

        DevicePlan plan;
        if (api == DevicePlan.Api.IOMMUFD) {
            String denied = denied(iommu, cdev);
            if (denied != null) {
                return no(denied);
            }
            plan = new DevicePlan(address, driver, group, api, null, null, iommu, cdev, false);
        } else {
            Path node = noIommu ? noIommuNode : groupNode;
            if (!exists(node)) {
                return no("IOMMU group " + group + " of " + bdf + " has no node " + groupNode
                        + " (is vfio-pci bound? see " + device.resolve("driver") + ")");
            }
            Path container = vfioDir.resolve("vfio");
            if (!exists(container)) {
                return no(container + " does not exist: the kernel lacks the VFIO container (CONFIG_VFIO_CONTAINER)"
                        + (cdev != null ? "; use iommu=iommufd" : ""));
            }
            String denied = denied(node, container);
            if (denied != null) {
                return no(denied);
            }
            plan = new DevicePlan(address, driver, group, api, node, container, null, null, noIommu);
        }
        return new Result.Usable(plan);
    }

    /** @return the devices of the group, other than {@code self}, bound to a driver that makes it unviable */
    private List<String> groupBlockers(int group, String self) {
        List<String> blockers = new ArrayList<>();
        Path devices = sysfs.resolve("kernel/iommu_groups").resolve(String.valueOf(group)).resolve("devices");
        try (DirectoryStream<Path> members = Files.newDirectoryStream(devices)) {
            for (Path member : members) {
                String name = member.getFileName().toString();
                if (name.equals(self)) {
                    continue;
                }
                String driver = linkName(member.resolve("driver"));
                if (driver != null && !isVfioDriver(driver) && !GROUP_SAFE_DRIVERS.contains(driver)) {
                    blockers.add(name + " is bound to " + driver);
                }
            }
        } catch (IOException e) {
            // No listing: the kernel's own viability check at open time is the authority then.
        }
        blockers.sort(null);
        return blockers;
    }

    /** @return {@code /dev/vfio/devices/vfioX} for the device, or null if the kernel made none */
    private Path deviceFile(Path device) {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(device.resolve("vfio-dev"), "vfio*")) {
            for (Path f : files) {
                Path node = dev.resolve("vfio/devices").resolve(f.getFileName().toString());
                if (exists(node)) {
                    return node;
                }
            }
        } catch (IOException e) {
            // no vfio-dev directory: no device files (kernel without CONFIG_VFIO_DEVICE_CDEV)
        }
        return null;
    }

    private static String denied(Path... nodes) {
        for (Path n : nodes) {
            if (!Files.isReadable(n) || !Files.isWritable(n)) {
                return "no permission to open " + n + " read-write: run as root, or give this user access (chown,"
                        + " or a udev rule such as SUBSYSTEM==\"vfio\", OWNER=\"" + System.getProperty("user.name") + "\")";
            }
        }
        return null;
    }

    private static boolean isVfioDriver(String driver) {
        // vfio-pci and its variant drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, nvgrace_gpu_vfio_pci, ...)
        return driver != null && (driver.equals("vfio-pci") || driver.endsWith("vfio_pci") || driver.endsWith("vfio-pci"));
    }

    private static boolean exists(Path p) {
        return Files.exists(p);
    }

    /** @return the last element of a symbolic link's target, or null if there is no link */
    private static String linkName(Path link) {
        try {
            Path target = Files.readSymbolicLink(link);
            Path name = target.getFileName();
            return name == null ? null : name.toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    private static Result no(String reason) {
        return new Result.Unusable(reason);
    }
}
