package vfio.tck.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.device.IrqInfo;
import vfio.tck.Hooks;
import vfio.tck.Hooks.MaskedInterrupts;

/**
 * {@link DeviceIoOps#setIrqs}: enable with signals, software trigger, mask and unmask, disable. Each
 * IRQ index with vectors is tested on its own (VFIO allows only one of INTx, MSI and MSI-X enabled at
 * a time) and disabled again afterwards.
 */
final class IrqChecks {
    /** At most this many vectors of an index are enabled (MSI-X may have 2048). */
    static final int MAX_ENABLED = 32;

    private IrqChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("irq.trigger-fires",
                        "IrqSet TRIGGER with Data.None and count > 0: fires the vectors from software; exactly that"
                                + " vector's signal is signalled",
                        IrqChecks::triggerFires),
                Definition.of("irq.device-raise-fires",
                        "IrqSignal: an interrupt the device raises signals the vector's signal (fd written or signal()"
                                + " called)",
                        IrqChecks::deviceRaiseFires),
                Definition.of("irq.mask-holds",
                        "IrqSet MASK: a masked vector's interrupts are held back (Irq.mask: the device's signals are held"
                                + " back until unmask)",
                        IrqChecks::maskHolds),
                Definition.of("irq.unmask-releases",
                        "IrqSet UNMASK: afterwards the vector's interrupts are delivered again; one raised while masked"
                                + " is delivered or dropped as the device documents (Hooks.MaskedInterrupts)",
                        IrqChecks::unmaskReleases),
                Definition.of("irq.disable-stops",
                        "IrqSet TRIGGER with Data.None and count 0: disables the index; its signals are not signalled"
                                + " afterwards",
                        IrqChecks::disableStops),
                Definition.of("irq.reenable-routes-new",
                        "IrqSet TRIGGER with Data.Signals: enabling again after a disable routes the vectors to the new"
                                + " signals, not to those of the earlier enable",
                        IrqChecks::reenable));
    }

    /** @return the IRQ indexes with vectors that satisfy {@code flags}, or skips */
    static List<IrqInfo> indexes(Probe p, DeviceIoOps ops, int flags, String what) {
        List<IrqInfo> out = new ArrayList<>();
        for (int i = 0; i < ops.deviceInfo().numIrqs(); i++) {
            IrqInfo info = ops.irqInfo(i);
            if (info.count() > 0 && info.has(flags)) {
                out.add(info);
            }
        }
        if (out.isEmpty()) {
            throw p.skip("no IRQ index " + what);
        }
        return out;
    }

    /** @return the vectors tested on an index: the first two and the last enabled one */
    static List<Integer> vectors(IrqInfo irq) {
        int n = enabled(irq);
        return List.copyOf(new TreeSet<>(List.of(0, Math.min(1, n - 1), n - 1)));
    }

    static int enabled(IrqInfo irq) {
        return Math.min(irq.count(), MAX_ENABLED);
    }

    static List<KitSignal> enable(Probe p, DeviceIoOps ops, IrqInfo irq) throws Exception {
        List<KitSignal> s = p.signals(enabled(irq));
        ops.setIrqs(IrqSet.enable(irq.index(), new ArrayList<IrqSignal>(s)));
        return s;
    }

    /** Fires a vector: through the device if the raiser can, else by software trigger. @return how */
    static String fire(Probe p, DeviceIoOps ops, IrqInfo irq, int vector, boolean preferDevice) throws Exception {
        Optional<Hooks.IrqRaiser> raiser = p.subject.hooks().irqRaiser();
        if (preferDevice && raiser.isPresent() && raiser.get().raise(ops, irq.index(), vector)) {
            return "raised by the device";
        }
        ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.TRIGGER, vector));
        return "software trigger";
    }

    /**
     * After a delivery on an automasked index, does what a driver's handler does: lowers the
     * interrupt at the device (if the IRQ raiser can), then unmasks.
     */
    static void afterDelivery(Probe p, DeviceIoOps ops, IrqInfo irq, int vector) throws Exception {
        if (irq.has(IrqInfo.FLAG_AUTOMASKED)) {
            Optional<Hooks.IrqRaiser> raiser = p.subject.hooks().irqRaiser();
            if (raiser.isPresent()) {
                raiser.get().lower(ops, irq.index(), vector);
            }
            ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.UNMASK, vector));
        }
    }

    private static void triggerFires(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        for (IrqInfo irq : indexes(p, ops, 0, "with vectors")) {
            List<KitSignal> s = enable(p, ops, irq);
            for (int v : vectors(irq)) {
                s.forEach(KitSignal::drain);
                String what = "software trigger of vector " + v + " of " + Describe.irq(irq);
                try {
                    ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.TRIGGER, v));
                } catch (RuntimeException e) {
                    p.problem(what + " threw " + Describe.exception(e));
                    continue;
                }
                if (p.expect(s.get(v).await(p.subject.timeout()), what + " did not signal within "
                        + p.subject.timeout().toMillis() + " ms")) {
                    afterDelivery(p, ops, irq, v);
                }
                for (int u = 0; u < s.size(); u++) {
                    p.expect(u == v || s.get(u).drain() == 0, what + " signalled vector " + u + " too");
                }
            }
            ops.setIrqs(IrqSet.disable(irq.index()));
        }
    }

    private static void deviceRaiseFires(Probe p) throws Exception {
        Hooks.IrqRaiser raiser = p.subject.hooks().irqRaiser()
                .orElseThrow(() -> p.skip("needs an IRQ raiser hook (Hooks.withIrqRaiser)"));
        DeviceIoOps ops = p.open();
        int raised = 0;
        for (IrqInfo irq : indexes(p, ops, 0, "with vectors")) {
            List<KitSignal> s = enable(p, ops, irq);
            for (int v : vectors(irq)) {
                s.forEach(KitSignal::drain);
                if (!raiser.raise(ops, irq.index(), v)) {
                    continue;
                }
                raised++;
                if (p.expect(s.get(v).await(p.subject.timeout()), "the device raised vector " + v + " of "
                        + Describe.irq(irq) + " but its signal was not signalled within "
                        + p.subject.timeout().toMillis() + " ms")) {
                    afterDelivery(p, ops, irq, v);
                }
            }
            ops.setIrqs(IrqSet.disable(irq.index()));
        }
        if (raised == 0) {
            throw p.skip("the IRQ raiser raised none of the vectors tested");
        }
    }

    private static void maskHolds(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        for (IrqInfo irq : indexes(p, ops, IrqInfo.FLAG_MASKABLE, "is maskable")) {
            List<KitSignal> s = enable(p, ops, irq);
            ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.MASK, 0));
            s.get(0).drain();
            String how = fire(p, ops, irq, 0, true);
            p.expect(!s.get(0).await(p.subject.quietPeriod()), "vector 0 of " + Describe.irq(irq) + " was signalled ("
                    + how + ") while masked");
            ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.UNMASK, 0));
            ops.setIrqs(IrqSet.disable(irq.index()));
            p.note(Describe.irq(irq) + ": " + how);
        }
    }

    private static void unmaskReleases(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        Optional<MaskedInterrupts> declared = p.subject.hooks().maskedInterrupts();
        for (IrqInfo irq : indexes(p, ops, IrqInfo.FLAG_MASKABLE, "is maskable")) {
            List<KitSignal> s = enable(p, ops, irq);
            KitSignal v0 = s.get(0);
            ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.MASK, 0));
            String how = fire(p, ops, irq, 0, true);
            v0.await(p.subject.quietPeriod());
            v0.drain();
            ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.UNMASK, 0));
            String name = "vector 0 of " + Describe.irq(irq) + " (" + how + ")";
            if (declared.orElse(null) == MaskedInterrupts.DELIVERED_ON_UNMASK) {
                if (p.expect(v0.await(p.subject.timeout()), "an interrupt on masked " + name
                        + " was not delivered on unmask, though the device is declared DELIVERED_ON_UNMASK")) {
                    afterDelivery(p, ops, irq, 0);
                }
            } else if (declared.orElse(null) == MaskedInterrupts.DROPPED) {
                p.expect(!v0.await(p.subject.quietPeriod()), "an interrupt on masked " + name
                        + " was delivered on unmask, though the device is declared DROPPED");
            } else {
                boolean delivered = v0.await(p.subject.quietPeriod());
                if (delivered) {
                    afterDelivery(p, ops, irq, 0);
                }
                p.note(name + ": an interrupt raised while masked is " + (delivered ? "delivered on unmask (pending)"
                        : "dropped") + "; declare it with Hooks.withMaskedInterrupts to have it checked");
            }
            v0.drain();
            String again = fire(p, ops, irq, 0, true);
            if (p.expect(v0.await(p.subject.timeout()), "after unmask, vector 0 of " + Describe.irq(irq) + " (" + again
                    + ") was not signalled within " + p.subject.timeout().toMillis() + " ms")) {
                afterDelivery(p, ops, irq, 0);
            }
            ops.setIrqs(IrqSet.disable(irq.index()));
        }
    }

    private static void disableStops(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        Optional<Hooks.IrqRaiser> raiser = p.subject.hooks().irqRaiser();
        for (IrqInfo irq : indexes(p, ops, 0, "with vectors")) {
            List<KitSignal> s = enable(p, ops, irq);
            ops.setIrqs(IrqSet.disable(irq.index()));
            s.forEach(KitSignal::drain);
            try {
                ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.TRIGGER, 0));
            } catch (RuntimeException e) {
                // refusing to trigger a disabled vector is as good as not signalling it
            }
            if (raiser.isPresent()) {
                raiser.get().raise(ops, irq.index(), 0);
            }
            p.expect(!s.get(0).await(p.subject.quietPeriod()), "vector 0 of " + Describe.irq(irq)
                    + " was signalled after the index was disabled");
        }
    }

    private static void reenable(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        for (IrqInfo irq : indexes(p, ops, 0, "with vectors")) {
            List<KitSignal> first = enable(p, ops, irq);
            ops.setIrqs(IrqSet.disable(irq.index()));
            List<KitSignal> second = enable(p, ops, irq);
            first.forEach(KitSignal::drain);
            ops.setIrqs(IrqSet.one(irq.index(), IrqSet.Action.TRIGGER, 0));
            if (p.expect(second.get(0).await(p.subject.timeout()), "after re-enabling " + Describe.irq(irq)
                    + ", a trigger of vector 0 did not signal the new signal")) {
                afterDelivery(p, ops, irq, 0);
            }
            p.expect(first.get(0).drain() == 0, "after re-enabling " + Describe.irq(irq)
                    + ", a trigger of vector 0 signalled the signal of the earlier enable");
            ops.setIrqs(IrqSet.disable(irq.index()));
        }
    }
}
