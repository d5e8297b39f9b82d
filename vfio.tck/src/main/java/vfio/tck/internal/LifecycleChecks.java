package vfio.tck.internal;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionInfo;
import vfio.tck.Hooks;

/** {@link vfio.api.backend.BackendFactory#open} and {@link DeviceIoOps#close()}. */
final class LifecycleChecks {
    private static final String UNKNOWN_OPTION = "tck.no-such-option";

    private LifecycleChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("open.opens",
                        "BackendFactory.open: returns the device's operations, ready for use (deviceInfo and"
                                + " capabilities answer)",
                        LifecycleChecks::opens),
                Definition.of("open.rejects-unknown-options",
                        "OpenRequest.options: unknown keys must be rejected with a message naming them",
                        LifecycleChecks::rejectsUnknownOptions),
                Definition.of("open.foreign-address-fails-cleanly",
                        "BackendFactory.open: a device it cannot open is a DeviceException with a message that says"
                                + " what to do",
                        LifecycleChecks::foreignAddress),
                Definition.of("close.idempotent",
                        "DeviceIoOps.close: must not throw and must be idempotent",
                        LifecycleChecks::idempotent),
                Definition.of("close.releases-descriptors",
                        "DeviceIoOps.close: releases every resource: no descriptor left (counted in /proc/self/fd)",
                        p -> releases(p, Leaks.Kind.DESCRIPTORS)),
                Definition.of("close.releases-mappings",
                        "DeviceIoOps.close: releases every resource: no file or shared mapping left (/proc/self/maps)",
                        p -> releases(p, Leaks.Kind.MAPPINGS)),
                Definition.of("close.no-io-after-close",
                        "DeviceIoOps.close: the operations are dead afterwards: a region read fails with an exception"
                                + " instead of returning data or reading through a descriptor number since reused",
                        LifecycleChecks::noIoAfterClose),
                Definition.of("close.disables-irqs",
                        "DeviceIoOps.close: disables IRQs: a signal given to a closed instance is not signalled when"
                                + " the device raises the vector for the next instance",
                        LifecycleChecks::disablesIrqs),
                Definition.of("close.drops-dma",
                        "DeviceIoOps.close: drops DMA mappings: the IOVA range of a closed instance's mapping can be"
                                + " mapped again by the next instance",
                        LifecycleChecks::dropsDma));
    }

    private static void opens(Probe p) {
        DeviceIoOps ops = p.open();
        DeviceInfo info = ops.deviceInfo();
        p.expect(info != null, "deviceInfo() returned null");
        p.expect(ops.capabilities() != null, "capabilities() returned null");
        if (info != null) {
            p.note(info.numRegions() + " regions, " + info.numIrqs() + " IRQ indexes, flags " + Describe.hex(info.flags())
                    + ", capabilities " + ops.capabilities());
        }
    }

    private static void rejectsUnknownOptions(Probe p) {
        DeviceIoOps ops;
        try {
            ops = p.open(Map.of(UNKNOWN_OPTION, "1"));
        } catch (DeviceException e) {
            p.expect(e.getMessage() != null && e.getMessage().contains(UNKNOWN_OPTION),
                    "open with option " + UNKNOWN_OPTION + " was refused, but the message does not name the option: "
                            + e.getMessage());
            return;
        } catch (RuntimeException e) {
            throw new Problem("open with the unknown option " + UNKNOWN_OPTION + " threw " + Describe.exception(e)
                    + "; refuse it with a DeviceException naming the option");
        }
        throw new Problem("open with the unknown option " + UNKNOWN_OPTION + " succeeded"
                + (ops == null ? " (returning null)" : "") + "; unknown options must be rejected, naming them");
    }

    private static void foreignAddress(Probe p) {
        String address = "tck-no-such-scheme:device0";
        try {
            DeviceIoOps ops = p.subject.factory().open(new OpenRequest("vfio-tck", address, p.subject.timeout(), Map.of()));
            if (ops != null) {
                p.track(ops);
            }
            p.problem("open(\"" + address + "\") succeeded for an address no backend can serve");
        } catch (DeviceException e) {
            p.expect(e.getMessage() != null && !e.getMessage().isBlank(),
                    "open(\"" + address + "\") was refused without a message");
        } catch (RuntimeException e) {
            p.problem("open(\"" + address + "\") threw " + Describe.exception(e) + " instead of a DeviceException");
        }
    }

    private static void idempotent(Probe p) {
        DeviceIoOps ops = p.open();
        p.close(ops);
        for (int i = 2; i <= 3; i++) {
            try {
                ops.close();
            } catch (RuntimeException e) {
                p.problem("close() call " + i + " threw " + Describe.exception(e) + "; close must be idempotent");
            }
        }
    }

    private static void releases(Probe p, Leaks.Kind kind) throws Exception {
        if (!ProcSelf.available()) {
            throw p.skip("needs /proc/self (Linux)");
        }
        String leak = Leaks.measure(kind, "open, use and close", () -> Leaks.deviceLife(p));
        if (leak != null) {
            p.problem(leak);
        }
    }

    private static void noIoAfterClose(Probe p) {
        DeviceIoOps ops = p.open();
        int region = -1;
        long offset = 0;
        for (Hooks.Scratch s : p.subject.hooks().scratch()) {
            region = s.region();
            offset = s.offset();
        }
        DeviceInfo info = ops.deviceInfo();
        if (region < 0 && info.isPci() && info.numRegions() > Pci.REGION_CONFIG
                && ops.regionInfo(Pci.REGION_CONFIG).has(RegionInfo.FLAG_READ)) {
            region = Pci.REGION_CONFIG;
        }
        if (region < 0) {
            for (Hooks.KnownValue k : p.subject.hooks().knownValues()) {
                region = k.region();
                offset = k.offset();
            }
        }
        if (region < 0) {
            throw p.skip("needs a region the kit may read: declare a scratch range or known value, or a PCI config space");
        }
        p.close(ops);
        int r = region;
        long o = offset;
        ByteBuffer b = ByteBuffer.allocate(4);
        try {
            ops.regionRead(r, o, b);
            p.problem("regionRead after close returned " + b.position() + " bytes; it must fail");
        } catch (RuntimeException e) {
            // expected: any exception, the point is that no data comes back
        }
    }

    private static void disablesIrqs(Probe p) throws Exception {
        Hooks.IrqRaiser raiser = p.subject.hooks().irqRaiser()
                .orElseThrow(() -> p.skip("needs an IRQ raiser hook (Hooks.withIrqRaiser)"));
        DeviceIoOps first = p.open();
        IrqInfo irq = null;
        KitSignal old = null;
        for (int i = 0; i < first.deviceInfo().numIrqs() && irq == null; i++) {
            IrqInfo info = first.irqInfo(i);
            if (info.count() == 0) {
                continue;
            }
            KitSignal s = p.signal();
            first.setIrqs(IrqSet.enable(i, List.of(s)));
            if (raiser.raise(first, i, 0)) {
                irq = info;
                old = s;
                p.expect(s.await(p.subject.timeout()), "the device raised vector 0 of " + Describe.irq(info)
                        + " but its signal was not signalled within " + p.subject.timeout().toMillis() + " ms");
            } else {
                first.setIrqs(IrqSet.disable(i));
            }
        }
        if (irq == null) {
            throw p.skip("the IRQ raiser cannot raise vector 0 of any IRQ index");
        }
        p.close(first);
        old.drain();
        DeviceIoOps next = p.open();
        KitSignal fresh = p.signal();
        next.setIrqs(IrqSet.enable(irq.index(), List.of(fresh)));
        raiser.raise(next, irq.index(), 0);
        p.expect(fresh.await(p.subject.timeout()), "the device raised vector 0 of " + Describe.irq(irq)
                + " but the new instance's signal was not signalled within " + p.subject.timeout().toMillis() + " ms");
        p.expect(old.drain() == 0, "a signal enabled on a closed instance was signalled when the device raised "
                + Describe.irq(irq) + " for the next instance; close must disable IRQs");
        next.setIrqs(IrqSet.disable(irq.index()));
    }

    private static void dropsDma(Probe p) throws Exception {
        DeviceIoOps first = p.open();
        if (!first.capabilities().contains(BackendCapability.DMA)) {
            throw p.skip("the backend has no DMA capability");
        }
        KitDma a = p.dma(2);
        long iova = first.dmaMap(a, DmaChecks.IOVA_BASE, true, true);
        p.close(first);
        DeviceIoOps next = p.open();
        KitDma b = p.dma(2);
        try {
            long again = next.dmaMap(b, iova, true, true);
            next.dmaUnmap(again, b.size());
        } catch (DeviceException e) {
            p.problem("after close, mapping the same IOVA " + Describe.hex(iova) + " on the next instance failed: "
                    + e.getMessage() + "; close must drop DMA mappings");
        }
    }
}
