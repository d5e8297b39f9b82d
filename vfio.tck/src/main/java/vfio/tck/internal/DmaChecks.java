package vfio.tck.internal;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.device.NotSupportedException;
import vfio.posix.MappedMemory;
import vfio.tck.Hooks;

/** {@link DeviceIoOps#dmaMap} and {@link DeviceIoOps#dmaUnmap}: IOVA rules. */
final class DmaChecks {
    /** Where the kit asks for mappings: 1 MiB, page aligned, inside a 28-bit DMA mask (the edu device's). */
    static final long IOVA_BASE = 0x10_0000;
    /** An IOVA the kit never maps. */
    static final long IOVA_NEVER_MAPPED = 0x400_0000;

    private DmaChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("dma.not-supported-without-capability",
                        "DeviceIoOps.dmaMap: throws NotSupportedException without BackendCapability.DMA",
                        DmaChecks::notSupported),
                Definition.of("dma.map-iova",
                        "DeviceIoOps.dmaMap: returns a page-aligned IOVA, the requested one unless the backend has"
                                + " DMA_IOVA_CHOSEN_BY_BACKEND; unmapped, the range can be mapped again",
                        DmaChecks::mapIova),
                Definition.of("dma.overlap-rejected",
                        "DeviceIoOps.dmaMap: an IOVA range overlapping an existing mapping is refused (BackendException),"
                                + " or with DMA_IOVA_CHOSEN_BY_BACKEND placed elsewhere",
                        DmaChecks::overlap),
                Definition.of("dma.unmap-must-match",
                        "DeviceIoOps.dmaUnmap: takes the IOVA dmaMap returned and the size mapped; a range that is not"
                                + " exactly one mapping is refused and leaves the mapping in place",
                        DmaChecks::unmapMustMatch),
                Definition.of("dma.unmap-unknown-rejected",
                        "DeviceIoOps.dmaUnmap: an IOVA never mapped, or already unmapped, is refused",
                        DmaChecks::unmapUnknown),
                Definition.of("dma.device-writes",
                        "DeviceIoOps.dmaMap: the device reaches the memory at the IOVA dmaMap returned",
                        DmaChecks::deviceWrites));
    }

    private static DeviceIoOps withDma(Probe p) {
        DeviceIoOps ops = p.open();
        if (!ops.capabilities().contains(BackendCapability.DMA)) {
            throw p.skip("the backend has no DMA capability");
        }
        return ops;
    }

    private static boolean chosenByBackend(DeviceIoOps ops) {
        return ops.capabilities().contains(BackendCapability.DMA_IOVA_CHOSEN_BY_BACKEND);
    }

    private static void notSupported(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        if (ops.capabilities().contains(BackendCapability.DMA)) {
            throw p.skip("the backend has DMA");
        }
        KitDma m = p.dma(1);
        String problem = Io.throwsExactly("dmaMap without the DMA capability", NotSupportedException.class,
                () -> ops.dmaMap(m, IOVA_BASE, true, true));
        p.expect(problem == null, problem);
    }

    private static void mapIova(Probe p) throws Exception {
        DeviceIoOps ops = withDma(p);
        long page = MappedMemory.pageSize();
        KitDma m = p.dma(2);
        for (int round = 1; round <= 2; round++) {
            long iova = ops.dmaMap(m, IOVA_BASE, true, true);
            p.expect((iova & (page - 1)) == 0, "dmaMap returned IOVA " + Describe.hex(iova) + ", not page aligned");
            p.expect(iova == IOVA_BASE || chosenByBackend(ops), "dmaMap asked for IOVA " + Describe.hex(IOVA_BASE)
                    + " returned " + Describe.hex(iova) + " without DMA_IOVA_CHOSEN_BY_BACKEND");
            ops.dmaUnmap(iova, m.size());
        }
    }

    private static void overlap(Probe p) throws Exception {
        DeviceIoOps ops = withDma(p);
        long page = MappedMemory.pageSize();
        KitDma a = p.dma(2);
        long at = ops.dmaMap(a, IOVA_BASE, true, true);
        long[][] cases = {{at, 1}, {at + page, 1}, {at - page, 2}, {at - page, 4}};
        for (long[] c : cases) {
            KitDma b = p.dma((int) c[1]);
            String what = "dmaMap of " + Describe.hex(b.size()) + " bytes at " + Describe.hex(c[0]) + " while ["
                    + Describe.hex(at) + ", " + Describe.hex(at + a.size()) + ") is mapped";
            long got;
            try {
                got = ops.dmaMap(b, c[0], true, true);
            } catch (vfio.api.device.DeviceException | IllegalArgumentException e) {
                continue;
            }
            boolean overlaps = got < at + a.size() && at < got + b.size();
            p.expect(chosenByBackend(ops) && !overlaps, what + " succeeded"
                    + (chosenByBackend(ops) ? " at an overlapping IOVA " + Describe.hex(got) : "")
                    + "; an overlapping mapping must be refused");
            try {
                ops.dmaUnmap(got, b.size());
            } catch (RuntimeException e) {
                p.problem("unmapping the mapping that " + what + " made failed: " + e.getMessage());
            }
        }
        ops.dmaUnmap(at, a.size());
    }

    private static void unmapMustMatch(Probe p) throws Exception {
        DeviceIoOps ops = withDma(p);
        long page = MappedMemory.pageSize();
        KitDma a = p.dma(2);
        long at = ops.dmaMap(a, IOVA_BASE, true, true);
        String of = " of the mapping [" + Describe.hex(at) + ", " + Describe.hex(at + a.size()) + ")";
        String r;
        r = Io.refused("dmaUnmap of its first page" + of, () -> ops.dmaUnmap(at, page));
        p.expect(r == null, r);
        r = Io.refused("dmaUnmap of its second page" + of, () -> ops.dmaUnmap(at + page, page));
        p.expect(r == null, r);
        r = Io.refused("dmaUnmap of twice its size" + of, () -> ops.dmaUnmap(at, 2 * a.size()));
        p.expect(r == null, r);
        try {
            ops.dmaUnmap(at, a.size());
        } catch (RuntimeException e) {
            p.problem("after refused partial unmaps, dmaUnmap of the whole mapping" + of + " failed ("
                    + e.getMessage() + "): a refused unmap must leave the mapping in place");
        }
    }

    private static void unmapUnknown(Probe p) throws Exception {
        DeviceIoOps ops = withDma(p);
        long page = MappedMemory.pageSize();
        String r = Io.refused("dmaUnmap of IOVA " + Describe.hex(IOVA_NEVER_MAPPED) + ", never mapped",
                () -> ops.dmaUnmap(IOVA_NEVER_MAPPED, page));
        p.expect(r == null, r);
        KitDma a = p.dma(1);
        long at = ops.dmaMap(a, IOVA_BASE, true, true);
        ops.dmaUnmap(at, a.size());
        r = Io.refused("a second dmaUnmap of IOVA " + Describe.hex(at), () -> ops.dmaUnmap(at, a.size()));
        p.expect(r == null, r);
    }

    private static void deviceWrites(Probe p) throws Exception {
        Hooks.DmaWriter writer = p.subject.hooks().dmaWriter()
                .orElseThrow(() -> p.skip("needs a DMA writer hook (Hooks.withDmaWriter)"));
        DeviceIoOps ops = withDma(p);
        KitDma source = p.dma(1);
        KitDma target = p.dma(1);
        byte[] data = Io.random(64);
        source.memory().put(0, data);
        long src = ops.dmaMap(source, IOVA_BASE, true, false);
        long dst = ops.dmaMap(target, IOVA_BASE + 0x10_0000, false, true);
        writer.write(ops, dst + 0x40, data, src);
        ByteBuffer t = target.memory();
        byte[] got = new byte[data.length];
        t.get(0x40, got);
        p.expect(Arrays.equals(got, data), "the device wrote by DMA at IOVA " + Describe.hex(dst + 0x40)
                + " but the memory mapped there holds " + Describe.bytes(got) + ", expected " + Describe.bytes(data));
        byte[] before = new byte[0x40];
        t.get(0, before);
        p.expect(Arrays.equals(before, new byte[0x40]), "the device's DMA write changed bytes before its target");
        ops.dmaUnmap(src, source.size());
        ops.dmaUnmap(dst, target.size());
    }
}
