package vfio.backend.apple.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.device.BackendException;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;
import vfio.backend.apple.sim.SimulatedDext.Call;

/** set_irqs as an enable mask, and the interrupt loop's delivery, re-arm and recovery. */
class InterruptTest {
    private SimRig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    private static List<IrqSignal> signals(IrqSignal... s) {
        return new ArrayList<>(Arrays.asList(s));
    }

    @Test
    void theEnableMaskHasABitPerEnabledVectorAndBitZeroForIntx() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(new TestSignal(), null, null, new TestSignal())));
        assertThat(rig.function().irqMask()).containsExactly(0b1001, 0, 0, 0);

        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSIX, signals(null, null, null, null, null, new TestSignal())));
        assertThat(rig.function().irqMask()).containsExactly(0b101001, 0, 0, 0);

        ops.setIrqs(IrqSet.disable(Pci.IRQ_MSI));
        assertThat(rig.function().irqMask()).containsExactly(0b100000, 0, 0, 0);

        ops.setIrqs(IrqSet.disable(Pci.IRQ_MSIX));
        ops.setIrqs(IrqSet.enable(Pci.IRQ_INTX, signals(new TestSignal())));
        assertThat(rig.function().irqMask()).containsExactly(1, 0, 0, 0);

        // SetIRQMask is sent only when the mask changes
        int sent = rig.calls(Selector.SET_IRQ_MASK).size();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_INTX, signals(new TestSignal())));
        assertThat(rig.calls(Selector.SET_IRQ_MASK)).hasSize(sent);
    }

    @Test
    void vectorsAboveSixtyThreeLandInTheirWord() {
        IrqRouting r = new IrqRouting(0, 256);
        IrqSignal[] s = new IrqSignal[256];
        s[64] = new TestSignal();
        s[200] = new TestSignal();
        s[255] = new TestSignal();
        r.apply(IrqSet.enable(Pci.IRQ_MSIX, Arrays.asList(s)));
        assertThat(r.enableMask()).containsExactly(0, 1, 0, 1L << 8 | 1L << 63); // 64: word 1; 200, 255: word 3
    }

    @Test
    void eachPendingBitIsDeliveredToItsVectorsSignal() throws Exception {
        rig = SimRig.edu(false, 60_000);
        AppleDeviceIoOps ops = rig.open();
        TestSignal v0 = new TestSignal();
        TestSignal v3 = new TestSignal();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSIX, signals(v0, null, null, v3)));
        rig.function().raise(3);
        assertThat(v3.await(10)).isTrue();
        rig.function().raise(0);
        assertThat(v0.await(10)).isTrue();
        rig.function().raise(1); // not enabled: the dext does not latch it
        assertThat(rig.function().droppedRaises()).isEqualTo(1);
        rig.function().raise(3);
        assertThat(v3.await(10)).isTrue();
        assertThat(v0.count()).isEqualTo(1);
        assertThat(v3.count()).isEqualTo(2);
    }

    @Test
    void afterAFailedCheckInterruptTheLoopRearmsAndTheBitsStillArrive() throws Exception {
        // The wait timeout is far longer than the test bound, so delivery must come from the re-arm.
        rig = SimRig.edu(false, 600_000);
        AppleDeviceIoOps ops = rig.open();
        TestSignal v0 = new TestSignal();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(v0)));
        rig.sim.failNext(Selector.CHECK_INTERRUPT, KernReturn.IO_ERROR);
        rig.function().raise(0);
        assertThat(v0.await(10)).isTrue();

        List<Call> loop = rig.sim.calls().stream()
                .filter(c -> c.selector() == Selector.WAIT_INTERRUPT || c.selector() == Selector.CHECK_INTERRUPT).toList();
        int failed = indexOf(loop, c -> c.selector() == Selector.CHECK_INTERRUPT && c.kernReturn() == KernReturn.IO_ERROR);
        assertThat(failed).isPositive();
        assertThat(loop.get(failed - 1).note()).isEqualTo("completed");
        assertThat(loop.get(failed + 1).selector()).isEqualTo(Selector.WAIT_INTERRUPT);
        assertThat(loop.get(failed + 1).note()).as("re-armed wait completes at once: the bit is still pending").isEqualTo("completed");
        assertThat(loop.get(failed + 2).selector()).isEqualTo(Selector.CHECK_INTERRUPT);
        assertThat(loop.get(failed + 2).kernReturn()).isZero();
        assertThat(ops.session().loop().failures()).isEqualTo(1);
    }

    @Test
    void aLostWakeUpIsRecoveredByTheBoundedWait() throws Exception {
        rig = SimRig.edu(false, 50);
        AppleDeviceIoOps ops = rig.open();
        TestSignal v0 = new TestSignal();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(v0)));
        rig.sim.loseNextWakeup();
        rig.function().raise(0);
        assertThat(v0.await(10)).isTrue();
        assertThat(rig.function().lostWakeups()).as("the completion really was lost").isEqualTo(1);
        assertThat(ops.session().loop().timeouts()).isPositive();
        // and the loop keeps working afterwards
        rig.function().raise(0);
        assertThat(v0.await(10)).isTrue();
    }

    @Test
    void closingStopsTheLoopWithoutWaitingForItsTimeout() throws Exception {
        rig = SimRig.edu(false, 600_000);
        AppleDeviceIoOps ops = rig.open();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(new TestSignal())));
        InterruptLoop loop = ops.session().loop();
        assertThat(loop.isAlive()).isTrue();
        ops.close();
        assertThat(loop.isAlive()).isFalse(); // stop() joined it: the waiter was woken
        assertThat(rig.sim.openConnections()).isZero();
    }

    @Test
    void maskAndUnmaskAreNotSupportedButSoftwareTriggersFire() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        TestSignal v0 = new TestSignal();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(v0)));
        assertThatThrownBy(() -> ops.setIrqs(IrqSet.one(Pci.IRQ_MSI, IrqSet.Action.MASK, 0)))
                .isInstanceOf(NotSupportedException.class);
        assertThatThrownBy(() -> ops.setIrqs(IrqSet.one(Pci.IRQ_INTX, IrqSet.Action.UNMASK, 0)))
                .isInstanceOf(NotSupportedException.class);
        ops.setIrqs(IrqSet.one(Pci.IRQ_MSI, IrqSet.Action.TRIGGER, 0));
        assertThat(v0.count()).isEqualTo(1);
        ops.setIrqs(new IrqSet(Pci.IRQ_MSI, IrqSet.Action.TRIGGER, 0, 1, new IrqSet.Data.Bools(new boolean[] {true})));
        assertThat(v0.count()).isEqualTo(2);
        assertThatThrownBy(() -> ops.setIrqs(IrqSet.one(Pci.IRQ_MSI, IrqSet.Action.TRIGGER, 8)))
                .isInstanceOf(OutOfRangeException.class);
    }

    @Test
    void aRefusedMaskLeavesTheRoutingAsItWas() throws Exception {
        rig = SimRig.edu(false, 60_000);
        AppleDeviceIoOps ops = rig.open();
        TestSignal v0 = new TestSignal();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(v0)));
        rig.sim.failNext(Selector.SET_IRQ_MASK, KernReturn.BAD_ARGUMENT);
        assertThatThrownBy(() -> ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(v0, new TestSignal()))))
                .isInstanceOf(BackendException.class)
                .satisfies(e -> assertThat(((BackendException) e).errnoName()).isEqualTo("EINVAL"));
        assertThat(rig.function().irqMask()).containsExactly(1, 0, 0, 0);
        rig.function().raise(0);
        assertThat(v0.await(10)).isTrue();
    }

    @Test
    void noSignalAfterTheVectorWasDisabled() throws Exception {
        rig = SimRig.edu(false, 60_000);
        AppleDeviceIoOps ops = rig.open();
        TestSignal v0 = new TestSignal();
        ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(v0)));
        ops.setIrqs(IrqSet.disable(Pci.IRQ_MSI));
        rig.function().raise(0);
        assertThat(rig.function().droppedRaises()).isEqualTo(1);
        assertThat(v0.count()).isZero();
    }

    @Test
    void twoDevicesOnOneFunctionShareTheMaskAndEachKeepsItsVectors() throws Exception {
        rig = SimRig.edu(false, 60_000);
        AppleDeviceIoOps first = rig.open();
        AppleDeviceIoOps second = rig.open();
        TestSignal a = new TestSignal();
        TestSignal b = new TestSignal();
        first.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(null, a)));
        second.setIrqs(IrqSet.enable(Pci.IRQ_MSI, signals(null, null, b)));
        assertThat(rig.function().irqMask()).containsExactly(0b110, 0, 0, 0);
        first.close();
        assertThat(rig.function().irqMask()).containsExactly(0b100, 0, 0, 0);
        rig.function().raise(2);
        assertThat(b.await(10)).isTrue();
        assertThat(a.count()).isZero();
    }

    private static int indexOf(List<Call> calls, java.util.function.Predicate<Call> p) {
        for (int i = 0; i < calls.size(); i++) {
            if (p.test(calls.get(i))) {
                return i;
            }
        }
        return -1;
    }
}
