package vfio.backend.ioctl.internal.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds a fake sysfs and /dev tree in a directory, shaped like the kernel's. */
final class FakeSysfs {
    final Path sys;
    final Path dev;

    FakeSysfs(Path root) throws IOException {
        this.sys = root.resolve("sys");
        this.dev = root.resolve("dev");
        Files.createDirectories(sys.resolve("bus/pci/devices"));
        Files.createDirectories(sys.resolve("bus/pci/drivers"));
        Files.createDirectories(sys.resolve("kernel/iommu_groups"));
        Files.createDirectories(dev);
    }

    /** Adds a PCI function, bound to {@code driver} (null: none), in IOMMU group {@code group} (-1: none). */
    FakeSysfs device(String bdf, String driver, int group) throws IOException {
        Path d = Files.createDirectories(sys.resolve("devices/pci0000:00").resolve(bdf));
        Files.createSymbolicLink(sys.resolve("bus/pci/devices").resolve(bdf), d);
        if (driver != null) {
            Path drv = Files.createDirectories(sys.resolve("bus/pci/drivers").resolve(driver));
            Files.createSymbolicLink(d.resolve("driver"), drv);
        }
        if (group >= 0) {
            Path g = Files.createDirectories(sys.resolve("kernel/iommu_groups").resolve(String.valueOf(group)).resolve("devices"));
            Files.createSymbolicLink(g.resolve(bdf), d);
            Files.createSymbolicLink(d.resolve("iommu_group"), g.getParent());
        }
        return this;
    }

    /** Creates the VFIO nodes of the legacy API: /dev/vfio/vfio and /dev/vfio/{name}. */
    FakeSysfs groupNode(String name) throws IOException {
        Files.createDirectories(dev.resolve("vfio"));
        touch(dev.resolve("vfio/vfio"));
        touch(dev.resolve("vfio").resolve(name));
        return this;
    }

    /** Creates the iommufd nodes: /dev/iommu, the device's vfio-dev/vfioN and /dev/vfio/devices/vfioN. */
    FakeSysfs deviceFile(String bdf, int n) throws IOException {
        Files.createDirectories(sys.resolve("bus/pci/devices").resolve(bdf).resolve("vfio-dev/vfio" + n));
        Files.createDirectories(dev.resolve("vfio/devices"));
        touch(dev.resolve("vfio/devices/vfio" + n));
        touch(dev.resolve("iommu"));
        return this;
    }

    FakeSysfs vfioDir() throws IOException {
        Files.createDirectories(dev.resolve("vfio"));
        return this;
    }

    HostInspector inspector() {
        return new HostInspector(sys, dev);
    }

    private static void touch(Path p) throws IOException {
        if (!Files.exists(p)) {
            Files.createFile(p);
        }
    }
}
