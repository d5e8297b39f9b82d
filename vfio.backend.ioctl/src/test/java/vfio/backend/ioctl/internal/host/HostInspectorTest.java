package vfio.backend.ioctl.internal.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostInspectorTest {
    private static final PciAddress EDU = new PciAddress(0, 0, 3, 0);

    @TempDir
    Path root;
    private FakeSysfs fake;

    @BeforeEach
    void tree() throws Exception {
        fake = new FakeSysfs(root);
    }

    private String reason(IommuChoice choice) {
        HostInspector.Result r = fake.inspector().inspect(EDU, choice);
        assertThat(r).isInstanceOf(HostInspector.Result.Unusable.class);
        return ((HostInspector.Result.Unusable) r).reason();
    }

    private DevicePlan plan(IommuChoice choice) {
        HostInspector.Result r = fake.inspector().inspect(EDU, choice);
        assertThat(r).as("%s", r).isInstanceOf(HostInspector.Result.Usable.class);
        return ((HostInspector.Result.Usable) r).plan();
    }

    @Test
    void aMissingDeviceSaysToCheckTheAddress() {
        assertThat(reason(IommuChoice.AUTO)).startsWith("no PCI device 0000:00:03.0").contains("lspci -D");
    }

    @Test
    void aDeviceBoundElsewhereGetsTheCommandsToRebindIt() throws Exception {
        fake.device("0000:00:03.0", "e1000e", 3).groupNode("3");
        String reason = reason(IommuChoice.AUTO);
        assertThat(reason).startsWith("0000:00:03.0 is bound to e1000e, not vfio-pci")
                .contains("echo 0000:00:03.0 > " + fake.sys.resolve("bus/pci/devices/0000:00:03.0/driver/unbind"))
                .contains("echo vfio-pci > " + fake.sys.resolve("bus/pci/devices/0000:00:03.0/driver_override"))
                .contains("echo 0000:00:03.0 > " + fake.sys.resolve("bus/pci/drivers_probe"))
                .doesNotContain("modprobe");
    }

    @Test
    void anUnboundDeviceWithoutVfioSaysToLoadTheModuleFirst() throws Exception {
        fake.device("0000:00:03.0", null, 3);
        assertThat(reason(IommuChoice.AUTO)).contains("is not bound to any driver")
                .contains("modprobe vfio-pci; echo vfio-pci >").doesNotContain("unbind");
    }

    @Test
    void aBoundDeviceWithoutDevVfioSaysVfioIsNotLoaded() throws Exception {
        fake.device("0000:00:03.0", "vfio-pci", 3);
        assertThat(reason(IommuChoice.AUTO)).contains(fake.dev.resolve("vfio") + " does not exist")
                .contains("modprobe vfio-pci");
    }

    @Test
    void aGroupWithADeviceBoundElsewhereNamesIt() throws Exception {
        fake.device("0000:00:03.0", "vfio-pci", 7).groupNode("7")
                .device("0000:00:03.1", "snd_hda_intel", 7)
                .device("0000:00:00.0", "pcieport", 7)
                .device("0000:00:03.2", null, 7);
        assertThat(reason(IommuChoice.AUTO)).startsWith("IOMMU group 7 of 0000:00:03.0 is not viable: 0000:00:03.1 is"
                + " bound to snd_hda_intel;").doesNotContain("pcieport").doesNotContain("03.2")
                .contains(fake.sys.resolve("kernel/iommu_groups/7/devices").toString());
    }

    @Test
    void noIommuGroupSaysHowToGetOne() throws Exception {
        fake.device("0000:00:03.0", "vfio-pci", -1).vfioDir();
        assertThat(reason(IommuChoice.AUTO)).contains("has no IOMMU group").contains("intel_iommu=on")
                .contains("enable_unsafe_noiommu_mode=1");
    }

    @Test
    void aViableGroupUsesTheLegacyApiWhenThereIsNoDeviceFile() throws Exception {
        fake.device("0000:00:03.0", "vfio-pci", 3).groupNode("3").device("0000:00:03.1", "vfio-pci", 3);
        DevicePlan plan = plan(IommuChoice.AUTO);
        assertThat(plan.api()).isEqualTo(DevicePlan.Api.GROUP);
        assertThat(plan.group()).isEqualTo(3);
        assertThat(plan.groupNode()).isEqualTo(fake.dev.resolve("vfio/3"));
        assertThat(plan.container()).isEqualTo(fake.dev.resolve("vfio/vfio"));
        assertThat(plan.noIommu()).isFalse();
        assertThat(plan.describe()).startsWith("legacy group API: IOMMU group 3");
    }

    @Test
    void theDeviceFileIsPreferredAndTheOptionCanOverrideIt() throws Exception {
        fake.device("0000:00:03.0", "vfio-pci", 3).groupNode("3").deviceFile("0000:00:03.0", 0);
        DevicePlan auto = plan(IommuChoice.AUTO);
        assertThat(auto.api()).isEqualTo(DevicePlan.Api.IOMMUFD);
        assertThat(auto.deviceFile()).isEqualTo(fake.dev.resolve("vfio/devices/vfio0"));
        assertThat(auto.iommuDev()).isEqualTo(fake.dev.resolve("iommu"));
        assertThat(auto.describe()).startsWith("iommufd: device file " + fake.dev.resolve("vfio/devices/vfio0"));
        assertThat(plan(IommuChoice.IOMMUFD).api()).isEqualTo(DevicePlan.Api.IOMMUFD);
        assertThat(plan(IommuChoice.GROUP).api()).isEqualTo(DevicePlan.Api.GROUP);
    }

    @Test
    void askingForIommufdOnAKernelWithoutDeviceFilesSaysWhatIsMissing() throws Exception {
        fake.device("0000:00:03.0", "vfio-pci", 3).groupNode("3");
        assertThat(reason(IommuChoice.IOMMUFD)).contains("iommu=iommufd was asked for")
                .contains("CONFIG_VFIO_DEVICE_CDEV").contains("use iommu=group or iommu=auto");
    }

    @Test
    void aNoIommuGroupIsUsableOnlyThroughTheGroupApiAndSaysItIsUnsafe() throws Exception {
        fake.device("0000:00:03.0", "vfio-pci", 0).groupNode("noiommu-0");
        DevicePlan plan = plan(IommuChoice.AUTO);
        assertThat(plan.noIommu()).isTrue();
        assertThat(plan.groupNode()).isEqualTo(fake.dev.resolve("vfio/noiommu-0"));
        assertThat(plan.describe()).contains("UNSAFE no-IOMMU").contains("noiommu=unsafe");
        assertThat(reason(IommuChoice.IOMMUFD)).contains("no-IOMMU group");
    }

    @Test
    void aGroupNodeWithoutPermissionSaysWhoMayOpenIt() throws Exception {
        assumeFalse("root".equals(System.getProperty("user.name")),
                "root may open any file: permission denial cannot be shown when the tests run as root");
        fake.device("0000:00:03.0", "vfio-pci", 3).groupNode("3");
        Files.setPosixFilePermissions(fake.dev.resolve("vfio/3"), PosixFilePermissions.fromString("---------"));
        assertThat(reason(IommuChoice.AUTO)).startsWith("no permission to open " + fake.dev.resolve("vfio/3"))
                .contains("udev rule");
    }
}
