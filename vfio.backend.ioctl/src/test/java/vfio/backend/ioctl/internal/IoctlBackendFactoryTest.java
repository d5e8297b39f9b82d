package vfio.backend.ioctl.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;

/** Matching and the option checks of open, on a fake sysfs; the kernel must never be reached. */
class IoctlBackendFactoryTest {
    @TempDir
    Path root;

    private IoctlBackendFactory factory() throws Exception {
        Path sys = root.resolve("sys");
        Path dev = root.resolve("dev");
        Path d = Files.createDirectories(sys.resolve("devices/0000:00:03.0"));
        Files.createDirectories(sys.resolve("bus/pci/devices"));
        Files.createSymbolicLink(sys.resolve("bus/pci/devices/0000:00:03.0"), d);
        Files.createSymbolicLink(d.resolve("driver"), Files.createDirectories(sys.resolve("bus/pci/drivers/vfio-pci")));
        Path g = Files.createDirectories(sys.resolve("kernel/iommu_groups/0/devices"));
        Files.createSymbolicLink(g.resolve("0000:00:03.0"), d);
        Files.createSymbolicLink(d.resolve("iommu_group"), g.getParent());
        Files.createDirectories(dev.resolve("vfio"));
        Files.createFile(dev.resolve("vfio/vfio"));
        Files.createFile(dev.resolve("vfio/noiommu-0"));
        return new IoctlBackendFactory(sys, dev, path -> {
            throw new ErrnoException("open(" + path + ")", Errno.EPERM, "the test must not reach the kernel");
        });
    }

    private static OpenRequest request(Map<String, String> options) {
        return new OpenRequest("nic", "pci:00:03.0", Duration.ofSeconds(1), options);
    }

    @Test
    void matchesItsSchemeOnlyAndSaysWhyNot() throws Exception {
        IoctlBackendFactory f = factory();
        assertThat(f.match("vfio-user:/tmp/s.sock")).isEqualTo(Match.no("not a PCI address: this backend serves pci:DDDD:BB:DD.F"));
        assertThat(f.match("pci:zz").reason()).startsWith("malformed PCI address 'pci:zz'");
        assertThat(f.match("pci:0000:00:04.0").reason()).startsWith("no PCI device 0000:00:04.0");
        Match m = f.match("pci:00:03.0");
        assertThat(m.score()).isEqualTo(Match.DEFAULT_SCORE);
        assertThat(m.reason()).contains("no-IOMMU");
    }

    @Test
    void unknownOrMalformedOptionsAreRejectedByName() throws Exception {
        IoctlBackendFactory f = factory();
        assertThatThrownBy(() -> f.open(request(Map.of("iommu", "group", "speed", "fast", "colour", "red"))))
                .isInstanceOf(DeviceException.class).hasMessageContaining("unknown option(s) [colour, speed]")
                .hasMessageContaining("iommu=auto|group|iommufd");
        assertThatThrownBy(() -> f.open(request(Map.of("iommu", "vfio"))))
                .isInstanceOf(DeviceException.class).hasMessageContaining("option iommu=vfio is not understood");
        assertThatThrownBy(() -> f.open(request(Map.of("noiommu", "yes"))))
                .isInstanceOf(DeviceException.class).hasMessageContaining("the only value is noiommu=unsafe");
    }

    @Test
    void aNoIommuDeviceNeedsTheExplicitOptIn() throws Exception {
        assertThatThrownBy(() -> factory().open(request(Map.of())))
                .isInstanceOf(DeviceException.class).hasMessageContaining("no-IOMMU group")
                .hasMessageContaining("set the option noiommu=unsafe");
    }

    @Test
    void withTheOptInItGoesToTheKernel() throws Exception {
        assertThatThrownBy(() -> factory().open(request(Map.of("noiommu", "unsafe"))))
                .isInstanceOf(DeviceException.class).hasMessageContaining("the test must not reach the kernel");
    }
}
