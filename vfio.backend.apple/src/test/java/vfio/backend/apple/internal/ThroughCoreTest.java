package vfio.backend.apple.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Constants;
import vfio.api.backend.BackendFactory;
import vfio.api.device.DeviceEvent;
import vfio.api.device.DeviceState;
import vfio.api.device.DmaBuffer;
import vfio.api.device.Irq;
import vfio.api.device.Pci;
import vfio.api.device.Region;
import vfio.backend.apple.sim.EduModel;
import vfio.core.device.BackendCandidate;
import vfio.core.device.CoreDevice;
import vfio.core.device.DeviceSettings;
import vfio.core.irq.IrqDispatcher;

/**
 * The Apple backend under the real core ({@link CoreDevice}, from vfio.core): the driver API on top,
 * the simulated dext below. Covers what only the combination shows: the core maps the mappable BAR
 * through regionMap and later revokes it before regionUnmap; DMA buffers get the dext's bus address
 * as their IOVA within a 28-bit mask; interrupts reach an IrqHandler; the backend going away and
 * coming back (a hot-swap) leaves the device usable.
 */
class ThroughCoreTest {
    private static final long SERVICE_ID = 4711;
    private SimRig rig;
    private IrqDispatcher dispatcher;
    private CoreDevice device;
    private final List<DeviceEvent> events = new CopyOnWriteArrayList<>();

    @BeforeEach
    void bind() throws Exception {
        rig = SimRig.edu(false, 250);
        dispatcher = IrqDispatcher.create();
        Map<String, Object> config = new HashMap<>();
        config.put(DeviceSettings.NAME, "edu0");
        config.put(DeviceSettings.ADDRESS, SimRig.ADDRESS);
        config.put(DeviceSettings.ACCESS_TIMEOUT_MS, 2000L);
        device = new CoreDevice(DeviceSettings.from(config), dispatcher, events::add);
        device.start();
        register();
        awaitBound();
    }

    /**
     * Waits for the binding and for the status that reports it: CoreDevice wakes awaitBound before
     * it publishes the BOUND status, so backendId() can lag it briefly.
     */
    private void awaitBound() throws InterruptedException {
        assertThat(device.awaitBound(Duration.ofSeconds(10))).as(device.stateReason()).isTrue();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (device.state() != DeviceState.BOUND && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(device.state()).as(device.stateReason()).isEqualTo(DeviceState.BOUND);
    }

    private void register() {
        device.addBackend(BackendCandidate.of(rig.factory, Map.of(Constants.SERVICE_ID, SERVICE_ID,
                Constants.SERVICE_RANKING, 0, BackendFactory.PROP_ID, rig.factory.id())));
    }

    @AfterEach
    void close() {
        device.close();
        dispatcher.close();
        rig.close();
    }

    @Test
    void anEduDriverFlowThroughTheCore() throws Exception {
        assertThat(device.backendId()).contains("vfio.backend.apple");
        Region bar0 = device.region("bar0");
        assertThat(bar0.read32(EduModel.REG_ID)).isEqualTo(EduModel.ID);
        bar0.write32(EduModel.REG_LIVENESS, 0x0f0f0f0f);
        assertThat(bar0.read32(EduModel.REG_LIVENESS)).isEqualTo(~0x0f0f0f0f);

        Semaphore interrupts = new Semaphore(0);
        Irq msi = device.irq(Pci.IRQ_MSI);
        msi.enable(1, (irq, vector) -> interrupts.release());
        bar0.write32(EduModel.REG_STATUS, EduModel.STATUS_IRQ_ON_FACTORIAL);
        bar0.write32(EduModel.REG_FACTORIAL, 12);
        assertThat(interrupts.tryAcquire(10, TimeUnit.SECONDS)).isTrue();
        assertThat(bar0.read32(EduModel.REG_FACTORIAL)).isEqualTo(479001600);
        bar0.write32(EduModel.REG_IRQ_ACK, EduModel.IRQ_FACTORIAL);

        try (DmaBuffer buffer = device.allocateDma(8192, (1L << 28) - 1)) {
            long iova = buffer.iova();
            assertThat(rig.function().dmaBusAddresses()).as("the IOVA is the dext's bus address").containsExactly(iova);
            for (int i = 0; i < 4096; i++) {
                buffer.memory().put(i, (byte) (i ^ 0x5a));
            }
            bar0.write32(EduModel.REG_DMA_SRC, (int) iova);
            bar0.write32(EduModel.REG_DMA_DST, (int) EduModel.DMA_BUFFER);
            bar0.write32(EduModel.REG_DMA_COUNT, 4096);
            bar0.write32(EduModel.REG_DMA_CMD, EduModel.DMA_START | EduModel.DMA_IRQ);
            assertThat(interrupts.tryAcquire(10, TimeUnit.SECONDS)).isTrue();
            bar0.write32(EduModel.REG_DMA_SRC, (int) EduModel.DMA_BUFFER);
            bar0.write32(EduModel.REG_DMA_DST, (int) (iova + 4096));
            bar0.write32(EduModel.REG_DMA_CMD, EduModel.DMA_START | EduModel.DMA_TO_RAM | EduModel.DMA_IRQ);
            assertThat(interrupts.tryAcquire(10, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 4096; i++) {
                assertThat(buffer.memory().get(4096 + i)).isEqualTo((byte) (i ^ 0x5a));
            }
        }
        assertThat(rig.function().dmaKeys()).as("closing the buffer unregistered it").isEmpty();
        assertThat(((EduModel) rig.function().model()).dmaErrors()).isZero();
    }

    @Test
    void theCoreMapsTheMappableBarAndRevokesItBeforeRegionUnmap() throws Exception {
        Region bar2 = device.region("bar2");
        assertThat(bar2.mappedRanges()).as("the core mapped BAR2 through regionMap").isNotEmpty();
        bar2.write64(0x200, 0x1122334455667788L);
        assertThat(rig.function().bar(2).getLong(0x200)).isEqualTo(0x1122334455667788L);
        assertThat(rig.function().aliasesMade()).isPositive();

        device.removeBackend(SERVICE_ID); // the backend leaves: the core revokes, regionUnmap, close
        assertThat(device.state()).isNotEqualTo(DeviceState.BOUND);
        assertThat(rig.sim.openConnections()).as("the last release disconnected").isZero();
        assertThat(rig.function().claims()).isZero();
        assertThat(rig.function().aliasesUnmapped()).as("regionUnmap left the ranges to the core").isZero();
    }

    @Test
    void afterTheBackendComesBackTheDeviceWorksAgain() throws Exception {
        Semaphore interrupts = new Semaphore(0);
        device.irq(Pci.IRQ_MSI).enable(1, (irq, vector) -> interrupts.release());
        device.removeBackend(SERVICE_ID);
        assertThat(rig.sim.openConnections()).isZero();

        register();
        awaitBound();
        assertThat(rig.sim.connectionsOpened()).isEqualTo(2);
        Region bar0 = device.region("bar0");
        assertThat(bar0.read32(EduModel.REG_ID)).isEqualTo(EduModel.ID);
        bar0.write32(EduModel.REG_IRQ_RAISE, 0x8);
        assertThat(interrupts.tryAcquire(10, TimeUnit.SECONDS)).as("the core re-applied the IRQ after the rebind").isTrue();
        assertThat(device.region("bar2").mappedRanges()).isNotEmpty();
    }
}
