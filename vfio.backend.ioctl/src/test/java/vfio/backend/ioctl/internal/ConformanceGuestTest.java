package vfio.backend.ioctl.internal;

import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;
import vfio.tck.DeviceProfiles;
import vfio.tck.Subject;
import vfio.tck.junit.ConformanceTests;

/**
 * The conformance kit against the Linux backend on QEMU's edu device and the real vfio-pci driver
 * (in the rig's guest), with the edu profile's hooks. Under TCG the device is slow: longer timeout
 * and quiet period. Without an IOMMU, DMA needs physically contiguous memory below edu's 28-bit
 * limit, which the kit's buffers are not: every check that maps DMA memory is left out in that mode
 * only (their multi-page buffers are contiguous only by chance).
 */
@Tag("guest")
class ConformanceGuestTest {

    @TestFactory
    Stream<DynamicNode> theLinuxBackendConformsOnTheRealEduDevice() {
        String address = GuestSupport.address(0x1234, 0x11e8);
        Map<String, String> options = GuestSupport.noIommuMode()
                ? Map.of(IoctlBackendFactory.OPTION_IOMMU, GuestSupport.iommuOption(), IoctlBackendFactory.OPTION_NOIOMMU, "unsafe")
                : Map.of(IoctlBackendFactory.OPTION_IOMMU, GuestSupport.iommuOption());
        Subject subject = Subject.of(IoctlBackendFactory.system(), address).withOptions(options)
                .withHooks(DeviceProfiles.edu()).withTimeout(Duration.ofSeconds(10)).withQuietPeriod(Duration.ofMillis(300));
        return GuestSupport.noIommuMode()
                ? ConformanceTests.of(subject, check -> !check.id().contains("dma")) // dma.*, close.drops-dma, ...
                : ConformanceTests.of(subject);
    }
}
