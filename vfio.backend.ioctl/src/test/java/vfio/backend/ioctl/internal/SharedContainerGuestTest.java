package vfio.backend.ioctl.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vfio.backend.ioctl.internal.GuestSupport.*;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;

/**
 * Several devices on one backend instance: devices of different IOMMU groups share one container
 * (or one iommufd IOAS), and everything is closed when the last device goes.
 */
@Tag("guest")
class SharedContainerGuestTest {
    @Test
    void devicesOfTwoGroupsShareOneAddressSpaceAndReleaseItTogether() {
        IoctlBackendFactory factory = IoctlBackendFactory.system();
        String edu = address(EDU_VENDOR, EDU_DEVICE);
        String testdev = address(TESTDEV_VENDOR, TESTDEV_DEVICE);
        DeviceIoOps a = GuestSupport.open(factory, "edu", edu);
        try (DeviceIoOps b = GuestSupport.open(factory, "testdev", testdev)) {
            System.out.println("two devices: " + factory.census());
            boolean iommufd = ((IoctlDeviceOps) a).describe().startsWith("iommufd");
            assertThat(factory.census()).isEqualTo(iommufd ? "0 group(s), 0 container(s), one iommufd IOAS"
                    : "2 group(s), 1 container(s), no iommufd IOAS");
            assertThat(read32(a, 0, 0)).isEqualTo(0x010000ed);
            a.close();
            assertThat(factory.census()).isEqualTo(iommufd ? "0 group(s), 0 container(s), one iommufd IOAS"
                    : "1 group(s), 1 container(s), no iommufd IOAS");
        } finally {
            a.close();
        }
        assertThat(factory.census()).isEqualTo("0 group(s), 0 container(s), no iommufd IOAS");
    }

    @Test
    void aSecondBackendInstanceCannotTakeAnOpenDevice() {
        String edu = address(EDU_VENDOR, EDU_DEVICE);
        try (DeviceIoOps first = GuestSupport.open(IoctlBackendFactory.system(), "edu", edu)) {
            assertThatThrownBy(() -> GuestSupport.open(IoctlBackendFactory.system(), "edu-again", edu))
                    .isInstanceOf(DeviceException.class)
                    .satisfies(e -> assertThat(e.getMessage()).containsAnyOf("EBUSY", "can be bound once"));
            assertThat(read32(first, 0, 0)).as("the first is unaffected").isEqualTo(0x010000ed);
        }
    }

    @Test
    void unknownOptionsAreRejectedByName() {
        String edu = address(EDU_VENDOR, EDU_DEVICE);
        assertThatThrownBy(() -> IoctlBackendFactory.system().open(
                new OpenRequest("edu", edu, Duration.ofSeconds(5), Map.of("iommu", "auto", "colour", "blue"))))
                .isInstanceOf(DeviceException.class).hasMessageContaining("[colour]");
    }
}
