package vfio.tck.internal;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.backend.MappedArea;
import vfio.api.device.IrqInfo;
import vfio.api.device.RegionInfo;

/**
 * Finds descriptors and mappings that a backend leaves behind. A JVM opens files and maps memory by
 * itself (class loading, JIT, GC), so the kit does not compare one before/after pair: it runs the
 * operation once to warm up, takes a snapshot, runs it {@link #CYCLES} more times and reports what is
 * new only if at least one new item per cycle appeared. A leak grows with every cycle; noise does not.
 */
final class Leaks {
    /** Measured cycles after the warm-up. */
    static final int CYCLES = 3;

    private Leaks() {
    }

    /** One thing to measure: a snapshot of the process. */
    enum Kind {
        DESCRIPTORS("descriptors (/proc/self/fd)", ProcSelf::descriptors),
        MAPPINGS("file or shared mappings (/proc/self/maps)", ProcSelf::deviceMappings);

        final String what;
        final Supplier<Set<String>> snapshot;

        Kind(String what, Supplier<Set<String>> snapshot) {
            this.what = what;
            this.snapshot = snapshot;
        }
    }

    /** An operation to repeat. */
    @FunctionalInterface
    interface Cycle {
        void run() throws Exception;
    }

    /**
     * @return null if no leak was found, else a message listing what grew
     */
    static String measure(Kind kind, String operation, Cycle cycle) throws Exception {
        cycle.run();
        Set<String> before = kind.snapshot.get();
        for (int i = 0; i < CYCLES; i++) {
            cycle.run();
        }
        Set<String> after = kind.snapshot.get();
        Set<String> grown = new TreeSet<>(after);
        grown.removeAll(before);
        if (grown.size() < CYCLES) {
            return null;
        }
        return grown.size() + " more " + kind.what + " after " + CYCLES + " times " + operation + ": "
                + grown.stream().limit(6).toList() + (grown.size() > 6 ? " ..." : "");
    }

    /**
     * One full life of a device as the core leads it: open, read every info, map and tear down every
     * mappable region, enable and disable the first IRQ index with vectors, map and unmap DMA, close;
     * then free the kit's own resources, so that only the backend's can be left.
     */
    static void deviceLife(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        ops.capabilities();
        int regions = ops.deviceInfo().numRegions();
        int irqs = ops.deviceInfo().numIrqs();
        for (int i = 0; i < regions; i++) {
            ops.regionInfo(i);
        }
        IrqInfo firstIrq = null;
        for (int i = 0; i < irqs; i++) {
            IrqInfo info = ops.irqInfo(i);
            if (firstIrq == null && info.count() > 0) {
                firstIrq = info;
            }
        }
        for (RegionInfo r : Mappings.mappableRegions(ops)) {
            List<MappedArea> mapped = ops.regionMap(r, Mappings.requestable(r).orElseThrow());
            if (mapped != null && !mapped.isEmpty()) {
                Mappings.tearDown(p, ops, r.index(), mapped);
            }
        }
        if (firstIrq != null) {
            ops.setIrqs(IrqSet.enable(firstIrq.index(), List.of(p.signal())));
            ops.setIrqs(IrqSet.disable(firstIrq.index()));
        }
        if (ops.capabilities().contains(BackendCapability.DMA)) {
            KitDma m = p.dma(1);
            long iova = ops.dmaMap(m, DmaChecks.IOVA_BASE, true, true);
            ops.dmaUnmap(iova, m.size());
        }
        p.close(ops);
        p.releaseKitResources();
    }
}
