package vfio.core.irq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.IrqSignal;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Irq;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.core.device.DeviceRig;
import vfio.core.testing.MemoryBackendFactory;
import vfio.core.testing.MemoryDeviceOps;

/** Interrupts from a backend that writes the core's eventfds, as the kernel and vfio-user servers do. */
class DeviceIrqTest {
    private DeviceRig rig;
    private final BlockingQueue<String> calls = new LinkedBlockingQueue<>();

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    private MemoryBackendFactory bind(DeviceRig r, String id) throws Exception {
        rig = r;
        MemoryBackendFactory f = rig.register(rig.backend(id));
        rig.awaitBoundTo(id);
        return f;
    }

    private Irq msi(int vectors) {
        Irq msi = rig.device.irq(Pci.IRQ_MSI);
        msi.enable(vectors, (irq, vector) -> calls.add(irq.name() + "[" + vector + "] on " + Thread.currentThread().getName()));
        return msi;
    }

    private String nextCall() throws InterruptedException {
        String c = calls.poll(10, TimeUnit.SECONDS);
        assertThat(c).as("handler call").isNotNull();
        return c;
    }

    @Test
    void aVectorSignalledThroughItsEventFdCallsTheHandlerOnTheDispatcherThread() throws Exception {
        MemoryBackendFactory f = bind(new DeviceRig(), "a");
        Irq msi = msi(2);
        MemoryDeviceOps ops = f.current();
        assertThat(ops.signal(Pci.IRQ_MSI, 0).fd()).isNotNegative();
        assertThat(ops.signal(Pci.IRQ_MSI, 2)).isNull();
        assertThat(ops.fire(Pci.IRQ_MSI, 1)).isTrue();
        assertThat(nextCall()).isEqualTo("msi[1] on " + IrqDispatcher.THREAD_NAME);
        assertThat(ops.fire(Pci.IRQ_MSI, 0)).isTrue();
        assertThat(nextCall()).startsWith("msi[0]");
        assertThat(msi.count(0)).isEqualTo(1);
        assertThat(msi.count(1)).isEqualTo(1);
        assertThat(msi.enabledCount()).isEqualTo(2);
    }

    @Test
    void maskHoldsAVectorBackAndUnmaskReleasesIt() throws Exception {
        MemoryBackendFactory f = bind(new DeviceRig(), "a");
        Irq msi = msi(1);
        msi.mask(0);
        assertThat(f.current().fire(Pci.IRQ_MSI, 0)).isFalse();
        msi.unmask(0);
        assertThat(f.current().fire(Pci.IRQ_MSI, 0)).isTrue();
        assertThat(nextCall()).startsWith("msi[0]");
    }

    @Test
    void triggerFiresAVectorFromSoftware() throws Exception {
        bind(new DeviceRig(), "a");
        Irq msi = msi(4);
        msi.trigger(3);
        assertThat(nextCall()).startsWith("msi[3]");
        assertThat(msi.count(3)).isEqualTo(1);
    }

    @Test
    void enablesAndMasksAreReappliedWithTheSameSignalsAfterARebind() throws Exception {
        MemoryBackendFactory a = bind(new DeviceRig(), "a");
        Irq msi = msi(2);
        msi.mask(1);
        IrqSignal before = a.current().signal(Pci.IRQ_MSI, 0);
        a.current().fire(Pci.IRQ_MSI, 0);
        nextCall();
        rig.unregister(a);
        MemoryBackendFactory b = rig.register(rig.backend("b"));
        rig.awaitBoundTo("b");
        MemoryDeviceOps ops = b.current();
        assertThat(ops.signal(Pci.IRQ_MSI, 0)).isSameAs(before);
        assertThat(ops.signal(Pci.IRQ_MSI, 0).fd()).isEqualTo(before.fd());
        assertThat(ops.isMasked(Pci.IRQ_MSI, 1)).isTrue();
        assertThat(ops.fire(Pci.IRQ_MSI, 0)).isTrue();
        assertThat(nextCall()).startsWith("msi[0]");
        assertThat(msi.count(0)).isEqualTo(2);
        // the old backend was told to disable before it was closed
        assertThat(a.opened().get(0).irqSets()).last().satisfies(s -> assertThat(s.count()).isZero());
    }

    @Test
    void disableStopsHandlerCallsAndReleasesTheBackendsSignals() throws Exception {
        MemoryBackendFactory f = bind(new DeviceRig(), "a");
        Irq msi = msi(2);
        msi.disable();
        assertThat(msi.enabledCount()).isZero();
        assertThat(f.current().signal(Pci.IRQ_MSI, 0)).isNull();
        assertThat(f.current().fire(Pci.IRQ_MSI, 0)).isFalse();
        msi.disable(); // idempotent
        // disabled indexes are not re-applied on the next backend
        rig.unregister(f);
        MemoryBackendFactory b = rig.register(rig.backend("b"));
        rig.awaitBoundTo("b");
        assertThat(b.current().irqSets()).isEmpty();
    }

    @Test
    void aThrowingHandlerIsLoggedAndLaterInterruptsStillArrive() throws Exception {
        MemoryBackendFactory f = bind(new DeviceRig(), "a");
        Irq msi = rig.device.irq(Pci.IRQ_MSI);
        msi.enable(1, (irq, v) -> {
            calls.add("called");
            throw new IllegalStateException("driver bug");
        });
        f.current().fire(Pci.IRQ_MSI, 0);
        nextCall();
        f.current().fire(Pci.IRQ_MSI, 0);
        nextCall();
        assertThat(msi.count(0)).isEqualTo(2);
    }

    @Test
    void aBackendWithoutFdSupportSignalsThroughTheSignalObject() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory f = rig.backend("apple-like");
        f.setCapabilities(EnumSet.of(BackendCapability.REGION_MAP));
        rig.register(f);
        rig.awaitBoundTo("apple-like");
        msi(1);
        assertThat(f.current().fire(Pci.IRQ_MSI, 0)).isTrue();
        assertThat(nextCall()).startsWith("msi[0]");
    }

    @Test
    void withoutEventFdsThePureJavaDispatcherDeliversSignals() throws Exception {
        MemoryBackendFactory f = bind(new DeviceRig(new QueueIrqDispatcher(), Map.of()), "a");
        msi(2);
        IrqSignal s = f.current().signal(Pci.IRQ_MSI, 1);
        assertThat(s.fd()).isEqualTo(-1);
        assertThat(f.current().fire(Pci.IRQ_MSI, 1)).isTrue();
        assertThat(nextCall()).isEqualTo("msi[1] on " + IrqDispatcher.THREAD_NAME);
    }

    @Test
    void vectorsAndIndexesOutsideTheDeviceAreRejected() throws Exception {
        bind(new DeviceRig(), "a");
        Irq msi = rig.device.irq(Pci.IRQ_MSI);
        assertThatThrownBy(() -> msi.enable(5, (i, v) -> { })).isInstanceOf(OutOfRangeException.class)
                .hasMessageContaining("it has 4 vectors");
        assertThatThrownBy(() -> msi.enable(0, (i, v) -> { })).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> msi.mask(4)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> msi.trigger(-1)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> rig.device.irq(Pci.NUM_IRQS)).isInstanceOf(OutOfRangeException.class);
        assertThatThrownBy(() -> rig.device.irq(Pci.IRQ_ERR).enable(1, (i, v) -> { }))
                .isInstanceOf(OutOfRangeException.class).hasMessageContaining("it has 0 vectors");
    }

    @Test
    void enablingWhileUnboundWaitsForTheAccessTimeout() throws Exception {
        MemoryBackendFactory f = bind(new DeviceRig(Map.of("access.timeout.ms", 50L)), "a");
        Irq msi = rig.device.irq(Pci.IRQ_MSI);
        rig.unregister(f);
        assertThatThrownBy(() -> msi.enable(1, (i, v) -> { })).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("IRQ msi of device dev0");
        msi.disable(); // nothing enabled: fine while unbound
    }

    @Test
    void aSignalKeepsCoalescedSignalsToOneCallAndClosesCleanly() throws Exception {
        try (IrqDispatcher d = IrqDispatcher.create()) {
            BlockingQueue<Integer> runs = new LinkedBlockingQueue<>();
            IrqDispatcher.Signal s = d.open("t", () -> runs.add(1));
            s.signal();
            assertThat(runs.poll(10, TimeUnit.SECONDS)).isEqualTo(1);
            s.close();
            s.signal(); // after close: ignored, no write to a recycled descriptor
            assertThat(s.fd()).isEqualTo(-1);
            assertThat(runs.poll(50, TimeUnit.MILLISECONDS)).isNull();
        }
    }
}
