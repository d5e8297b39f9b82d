package vfio.backend.ioctl.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static vfio.backend.ioctl.internal.GuestSupport.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import vfio.api.backend.BackendFactory;
import vfio.api.device.DeviceEvent;
import vfio.api.device.DeviceState;
import vfio.api.device.Pci;
import vfio.api.device.Region;
import vfio.core.device.BackendCandidate;
import vfio.core.device.CoreDevice;
import vfio.core.device.DeviceSettings;
import vfio.core.device.RebindPolicy;
import vfio.core.irq.IrqDispatcher;
import vfio.driver.edu.EduDriver;

/**
 * The real edu device through the whole platform outside OSGi: the core's {@link CoreDevice} bound
 * to this backend, and the same {@link EduDriver} that runs against the vfio-user edu emulation.
 * Also hot-swap with real hardware: a second backend instance replacing the first while the driver
 * holds the device.
 */
@Tag("guest")
class CoreEduGuestTest {
    private IrqDispatcher dispatcher;
    private CoreDevice device;
    private final List<DeviceEvent> events = new ArrayList<>();

    @BeforeEach
    void bind() throws Exception {
        String address = address(EDU_VENDOR, EDU_DEVICE);
        Map<String, String> options = noIommuMode() ? Map.of("iommu", iommuOption(), "noiommu", "unsafe")
                : Map.of("iommu", iommuOption());
        dispatcher = IrqDispatcher.create();
        device = new CoreDevice(new DeviceSettings("edu", address, DeviceSettings.ANY_BACKEND, RebindPolicy.GREEDY,
                Duration.ofSeconds(30), options), dispatcher, e -> {
                    synchronized (events) {
                        events.add(e);
                    }
                });
        device.start();
        device.addBackend(candidate(IoctlBackendFactory.system(), 1));
        assertThat(device.awaitBound(Duration.ofSeconds(60))).as(device.stateReason()).isTrue();
    }

    private static BackendCandidate candidate(IoctlBackendFactory factory, long serviceId) {
        return new BackendCandidate(factory, IoctlBackendFactory.ID, 0, serviceId,
                Map.of(BackendFactory.PROP_ID, IoctlBackendFactory.ID, "service.id", serviceId));
    }

    @AfterEach
    void close() {
        if (device != null) {
            device.close();
        }
        if (dispatcher != null) {
            dispatcher.close();
        }
    }

    @Test
    void theEduDriverWorksOnTheRealDevice() throws Exception {
        assertThat(device.backendId()).contains(IoctlBackendFactory.ID);
        Region bar0 = device.region("bar0");
        assertThat(bar0.mappedRanges()).as("BAR0 is mapped (fast path)").isNotEmpty();
        assertThat(bar0.read32(0)).isEqualTo(EduDriver.ID);
        bar0.setMappingEnabled(false);
        assertThat(bar0.read32(0)).as("slow path").isEqualTo(EduDriver.ID);
        bar0.setMappingEnabled(true);
        try (EduDriver edu = EduDriver.open(device, Duration.ofSeconds(20))) {
            assertThat(edu.id()).isEqualTo(EduDriver.ID);
            assertThat(edu.liveness(0x55aa55aa)).isEqualTo(~0x55aa55aa);
            assertThat(edu.factorial(6)).isEqualTo(720);
            assertThat(edu.raise(0x10) & 0x10).isEqualTo(0x10);
            if (noIommuMode()) {
                return; // the driver's two-page buffer is neither contiguous nor below 2^28 physically
            }
            byte[] data = new byte[512];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (31 * i);
            }
            assertThat(edu.dmaRoundTrip(data)).isEqualTo(data);
            assertThat(edu.interruptCount()).isGreaterThanOrEqualTo(4);
        }
    }

    /**
     * Hot-swap with real hardware: the backend instance the device is bound to leaves and a new one
     * arrives. Closing the VFIO device file makes the kernel disable and reset the function and
     * restore the configuration space it saved at open, so the device's own state is lost (here:
     * Bus Master, which the driver had set). The core restores what it owns on the new instance
     * (mappings, IRQ enables, DMA buffers); the driver restores the device's state by setting it up
     * again. This is the reset-and-restore choice: no descriptor hand-over between instances.
     */
    @Test
    void aNewBackendInstanceTakesOverAfterAResetAndTheDriverSetsTheDeviceUpAgain() throws Exception {
        Region config = device.region(Pci.REGION_CONFIG);
        try (EduDriver edu = EduDriver.open(device, Duration.ofSeconds(20))) {
            assertThat(edu.factorial(5)).isEqualTo(120);
            assertThat(config.read16(0x04) & 0x4).as("Bus Master set by the driver").isEqualTo(0x4);
            device.removeBackend(1);
            assertThat(await(() -> device.state() != DeviceState.BOUND, Duration.ofSeconds(30)))
                    .as("unbound after the backend left").isTrue();
            device.addBackend(candidate(IoctlBackendFactory.system(), 2));
            assertThat(device.awaitBound(Duration.ofSeconds(60))).as(device.stateReason()).isTrue();
            // awaitBound() can return just before state() reads BOUND (the core publishes the session first).
            assertThat(await(() -> device.state() == DeviceState.BOUND, Duration.ofSeconds(10))).isTrue();
            assertThat(config.read16(0x04) & 0x4).as("Bus Master after the kernel's reset").isZero();
            // The driver sees the new generation and sets the device up again before its next operation.
            assertThat(edu.id()).as("BAR0 mapped again by the core").isEqualTo(EduDriver.ID);
            assertThat(config.read16(0x04) & 0x4).as("Bus Master set again by the same driver").isEqualTo(0x4);
            assertThat(edu.factorial(6)).as("completion interrupt on the same driver after the swap").isEqualTo(720);
        }
        try (EduDriver again = EduDriver.open(device, Duration.ofSeconds(20))) {
            assertThat(again.factorial(7)).as("completion interrupt after set-up").isEqualTo(5040);
            if (!noIommuMode()) {
                byte[] data = "through the IOMMU after a swap".getBytes(StandardCharsets.US_ASCII);
                assertThat(again.dmaRoundTrip(data)).isEqualTo(data);
            }
        }
        synchronized (events) {
            assertThat(events).extracting(DeviceEvent::current).contains(DeviceState.UNBOUND, DeviceState.BOUND);
        }
    }
}
