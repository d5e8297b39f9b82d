package vfio.tck.internal;

import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.List;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.device.IrqInfo;

/**
 * Indexes and vectors past what the device reported. The core never sends them, but a backend that
 * accepts them hides its own bookkeeping bugs (and the next core bug) behind silent success.
 */
final class BoundsChecks {
    private BoundsChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("bounds.region-index",
                        "DeviceIoOps.regionInfo/regionRead: a region index below 0 or at or past numRegions is refused"
                                + " with a DeviceException or IllegalArgumentException (never a crash or silent success)",
                        BoundsChecks::regionIndex),
                Definition.of("bounds.irq-index",
                        "DeviceIoOps.irqInfo/setIrqs: an IRQ index below 0 or at or past numIrqs is refused with a"
                                + " DeviceException or IllegalArgumentException",
                        BoundsChecks::irqIndex),
                Definition.of("bounds.irq-vector",
                        "DeviceIoOps.setIrqs: vectors at or past the index's IrqInfo.count are refused (VFIO: EINVAL)",
                        BoundsChecks::irqVector));
    }

    private static void regionIndex(Probe p) {
        DeviceIoOps ops = p.open();
        int n = ops.deviceInfo().numRegions();
        for (int index : new int[] {n, n + 1, -1}) {
            check(p, "regionInfo(" + index + ") with " + n + " regions", () -> ops.regionInfo(index));
            check(p, "regionRead(" + index + ", 0, 4 bytes) with " + n + " regions",
                    () -> ops.regionRead(index, 0, ByteBuffer.allocate(4)));
        }
    }

    private static void irqIndex(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        int n = ops.deviceInfo().numIrqs();
        KitSignal s = p.signal();
        for (int index : new int[] {n, n + 1}) {
            String what = " with " + n + " IRQ indexes";
            check(p, "irqInfo(" + index + ")" + what, () -> ops.irqInfo(index));
            check(p, "setIrqs(enable index " + index + ")" + what, () -> ops.setIrqs(IrqSet.enable(index, List.of(s))));
            check(p, "setIrqs(trigger index " + index + " vector 0)" + what,
                    () -> ops.setIrqs(IrqSet.one(index, IrqSet.Action.TRIGGER, 0)));
            check(p, "setIrqs(disable index " + index + ")" + what, () -> ops.setIrqs(IrqSet.disable(index)));
        }
        check(p, "irqInfo(-1)", () -> ops.irqInfo(-1));
    }

    private static void irqVector(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        int n = ops.deviceInfo().numIrqs();
        KitSignal s = p.signal();
        for (int i = 0; i < n; i++) {
            IrqInfo irq = ops.irqInfo(i);
            int c = irq.count();
            int index = i;
            String of = " of " + Describe.irq(irq);
            check(p, "setIrqs(enable vector " + c + of + ")",
                    () -> ops.setIrqs(new IrqSet(index, IrqSet.Action.TRIGGER, c, 1, new IrqSet.Data.Signals(List.of(s)))));
            check(p, "setIrqs(trigger vector " + c + of + ")", () -> ops.setIrqs(IrqSet.one(index, IrqSet.Action.TRIGGER, c)));
            check(p, "setIrqs(mask vector " + c + of + ")", () -> ops.setIrqs(IrqSet.one(index, IrqSet.Action.MASK, c)));
            if (c <= 64) {
                List<IrqSignal> tooMany = Collections.nCopies(c + 1, s);
                check(p, "setIrqs(enable " + (c + 1) + " vectors" + of + ")",
                        () -> ops.setIrqs(IrqSet.enable(index, tooMany)));
            }
            if (c > 0) {
                ops.setIrqs(IrqSet.disable(index));
            }
        }
    }

    private static void check(Probe p, String what, Runnable call) {
        String r = Io.refused(what, call);
        p.expect(r == null, r);
    }
}
