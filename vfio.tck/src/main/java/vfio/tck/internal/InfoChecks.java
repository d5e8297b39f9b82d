package vfio.tck.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

/** {@link DeviceIoOps#deviceInfo}, {@link DeviceIoOps#regionInfo} and {@link DeviceIoOps#irqInfo}. */
final class InfoChecks {
    /** PCI's largest vector counts per IRQ index: INTx, MSI, MSI-X, ERR, REQ. */
    private static final int[] PCI_MAX_VECTORS = {1, 32, 2048, 1, 1};

    private InfoChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("info.device-constant",
                        "DeviceIoOps.deviceInfo and capabilities: constant while open",
                        InfoChecks::deviceConstant),
                Definition.of("info.pci-layout",
                        "DeviceInfo: a PCI device (FLAG_PCI) has the 9 PCI region and 5 IRQ indexes (Pci), a readable"
                                + " configuration space of at least 256 bytes and vector counts PCI allows",
                        InfoChecks::pciLayout),
                Definition.of("info.region-index-echoed",
                        "DeviceIoOps.regionInfo: the info of the region asked for (index echoed), the same on every call",
                        InfoChecks::regionIndexEchoed),
                Definition.of("info.region-flags-coherent",
                        "RegionInfo: flags describe the region: an empty region is not readable, writable or mappable;"
                                + " a sparse-mmap capability comes with FLAG_MMAP",
                        InfoChecks::regionFlags),
                Definition.of("info.sparse-areas-valid",
                        "RegionInfo.sparseAreas: areas lie inside the region and do not overlap (else the core"
                                + " refuses to map the region)",
                        InfoChecks::sparseAreas),
                Definition.of("info.irq-index-echoed",
                        "DeviceIoOps.irqInfo: the info of the IRQ index asked for (index echoed), the same on every call",
                        InfoChecks::irqIndexEchoed),
                Definition.of("info.irq-flags-coherent",
                        "IrqInfo: FLAG_AUTOMASKED only with FLAG_MASKABLE (an automasked vector must be unmaskable)",
                        InfoChecks::irqFlags));
    }

    private static void deviceConstant(Probe p) {
        DeviceIoOps ops = p.open();
        DeviceInfo info = ops.deviceInfo();
        Set<BackendCapability> caps = ops.capabilities();
        for (int i = 0; i < 3; i++) {
            DeviceInfo again = ops.deviceInfo();
            p.expect(info.equals(again), "deviceInfo changed while open: " + info + " then " + again);
            Set<BackendCapability> c = ops.capabilities();
            p.expect(caps.equals(c), "capabilities changed while open: " + caps + " then " + c);
        }
    }

    private static void pciLayout(Probe p) {
        DeviceIoOps ops = p.open();
        DeviceInfo info = ops.deviceInfo();
        if (!info.isPci()) {
            throw p.skip("not a PCI device (no DeviceInfo.FLAG_PCI)");
        }
        p.expect(info.numRegions() >= Pci.NUM_REGIONS, "a PCI device reports " + info.numRegions()
                + " regions; it has at least " + Pci.NUM_REGIONS + " (BAR0-5, ROM, config, VGA)");
        p.expect(info.numIrqs() >= Pci.NUM_IRQS, "a PCI device reports " + info.numIrqs()
                + " IRQ indexes; it has at least " + Pci.NUM_IRQS + " (INTx, MSI, MSI-X, ERR, REQ)");
        if (info.numRegions() > Pci.REGION_CONFIG) {
            RegionInfo config = ops.regionInfo(Pci.REGION_CONFIG);
            p.expect(config.size() >= 256 && config.has(RegionInfo.FLAG_READ),
                    "PCI configuration space (region 7) must be readable and at least 256 bytes: " + Describe.canonical(config));
        }
        for (int i = 0; i < Math.min(info.numIrqs(), PCI_MAX_VECTORS.length); i++) {
            IrqInfo irq = ops.irqInfo(i);
            p.expect(irq.count() <= PCI_MAX_VECTORS[i], Describe.irq(irq) + ": PCI allows at most "
                    + PCI_MAX_VECTORS[i] + " vectors at this index");
        }
    }

    private static void regionIndexEchoed(Probe p) {
        DeviceIoOps ops = p.open();
        int n = ops.deviceInfo().numRegions();
        for (int i = 0; i < n; i++) {
            RegionInfo r = ops.regionInfo(i);
            if (!p.expect(r != null, "regionInfo(" + i + ") returned null")) {
                continue;
            }
            p.expect(r.index() == i, "regionInfo(" + i + ") returned the info of region " + r.index());
            RegionInfo again = ops.regionInfo(i);
            p.expect(again != null && Describe.canonical(r).equals(Describe.canonical(again)),
                    "regionInfo(" + i + ") changed between calls: " + Describe.canonical(r) + " then "
                            + (again == null ? "null" : Describe.canonical(again)));
        }
    }

    private static void regionFlags(Probe p) {
        DeviceIoOps ops = p.open();
        int n = ops.deviceInfo().numRegions();
        int access = RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE | RegionInfo.FLAG_MMAP;
        for (int i = 0; i < n; i++) {
            RegionInfo r = ops.regionInfo(i);
            if (r.size() == 0) {
                p.expect((r.flags() & access) == 0, Describe.region(i) + " is empty but flagged "
                        + Describe.hex(r.flags() & access) + " (read/write/mmap)");
            }
            if (r.sparseAreas().isPresent()) {
                p.expect(r.has(RegionInfo.FLAG_MMAP), Describe.region(i)
                        + " has a sparse-mmap capability but no FLAG_MMAP");
            }
        }
    }

    private static void sparseAreas(Probe p) {
        DeviceIoOps ops = p.open();
        int n = ops.deviceInfo().numRegions();
        boolean any = false;
        for (int i = 0; i < n; i++) {
            RegionInfo r = ops.regionInfo(i);
            if (r.sparseAreas().isEmpty()) {
                continue;
            }
            any = true;
            List<SparseArea> areas = new ArrayList<>(r.sparseAreas().get());
            areas.removeIf(a -> a.size() == 0);
            areas.sort(Comparator.comparingLong(SparseArea::offset));
            SparseArea previous = null;
            for (SparseArea a : areas) {
                if (a.offset() < 0 || a.size() < 0 || a.offset() > r.size() || a.size() > r.size() - a.offset()) {
                    p.problem(Describe.region(i) + " of size " + Describe.hex(r.size()) + " has sparse area "
                            + Describe.area(a) + " outside it");
                }
                if (previous != null && a.offset() < previous.end()) {
                    p.problem(Describe.region(i) + " has overlapping sparse areas " + Describe.area(previous) + " and "
                            + Describe.area(a));
                }
                previous = a;
            }
        }
        if (!any) {
            throw p.skip("no region has a sparse-mmap capability");
        }
    }

    private static void irqIndexEchoed(Probe p) {
        DeviceIoOps ops = p.open();
        int n = ops.deviceInfo().numIrqs();
        for (int i = 0; i < n; i++) {
            IrqInfo irq = ops.irqInfo(i);
            if (!p.expect(irq != null, "irqInfo(" + i + ") returned null")) {
                continue;
            }
            p.expect(irq.index() == i, "irqInfo(" + i + ") returned the info of IRQ index " + irq.index());
            IrqInfo again = ops.irqInfo(i);
            p.expect(irq.equals(again), "irqInfo(" + i + ") changed between calls: " + irq + " then " + again);
        }
    }

    private static void irqFlags(Probe p) {
        DeviceIoOps ops = p.open();
        int n = ops.deviceInfo().numIrqs();
        for (int i = 0; i < n; i++) {
            IrqInfo irq = ops.irqInfo(i);
            if (irq.has(IrqInfo.FLAG_AUTOMASKED)) {
                p.expect(irq.has(IrqInfo.FLAG_MASKABLE), Describe.irq(irq) + " is automasked but not maskable");
            }
        }
    }
}
