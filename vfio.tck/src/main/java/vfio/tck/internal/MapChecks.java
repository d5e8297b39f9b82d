package vfio.tck.internal;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.MappedArea;
import vfio.api.device.NotSupportedException;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.MappedMemory;
import vfio.tck.Hooks.Scratch;

/** {@link DeviceIoOps#regionMap} and {@link DeviceIoOps#regionUnmap}, with the core's revocation. */
final class MapChecks {
    private MapChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("map.not-supported-without-capability",
                        "DeviceIoOps.regionMap: throws NotSupportedException without BackendCapability.REGION_MAP",
                        MapChecks::notSupported),
                Definition.of("map.mmap-flag-maps",
                        "RegionInfo.FLAG_MMAP and DeviceIoOps.regionMap: a region flagged MMAP is mapped when the core"
                                + " asks for its areas",
                        MapChecks::mmapFlagMaps),
                Definition.of("map.areas-as-requested",
                        "DeviceIoOps.regionMap: returns only areas it was asked for, in order, page aligned, each mapped"
                                + " shared, readable and writable",
                        MapChecks::areasAsRequested),
                Definition.of("map.coherent-with-io",
                        "DeviceIoOps.regionMap: the mapped pages are the region: stores through the mapping are seen by"
                                + " regionRead, and regionWrite is seen through the mapping",
                        MapChecks::coherent),
                Definition.of("map.unmap-keeps-revoked-range",
                        "DeviceIoOps.regionUnmap: called once per successful regionMap after the core revoked the"
                                + " areas; must not unmap or remap the ranges",
                        MapChecks::unmapKeepsRange),
                Definition.of("map.unmap-releases",
                        "DeviceIoOps.regionUnmap: releases everything else it holds for the areas (descriptors,"
                                + " mappings); the region can be mapped again",
                        MapChecks::unmapReleases));
    }

    private static List<RegionInfo> mappable(Probe p, DeviceIoOps ops) {
        if (!ops.capabilities().contains(BackendCapability.REGION_MAP)) {
            throw p.skip("the backend has no REGION_MAP capability");
        }
        if (!ProcSelf.available()) {
            throw p.skip("needs /proc/self/maps (Linux) to touch mappings safely");
        }
        List<RegionInfo> regions = Mappings.mappableRegions(ops);
        if (regions.isEmpty()) {
            throw p.skip("no region is flagged MMAP with valid areas");
        }
        return regions;
    }

    private static void notSupported(Probe p) {
        DeviceIoOps ops = p.open();
        if (ops.capabilities().contains(BackendCapability.REGION_MAP)) {
            throw p.skip("the backend has REGION_MAP");
        }
        int n = ops.deviceInfo().numRegions();
        for (int i = 0; i < n; i++) {
            RegionInfo r = ops.regionInfo(i);
            if (r.size() == 0) {
                continue;
            }
            long size = Math.min(r.size(), MappedMemory.pageSize());
            AtomicReference<List<MappedArea>> got = new AtomicReference<>();
            String problem = Io.throwsExactly("regionMap of " + Describe.region(i), NotSupportedException.class,
                    () -> got.set(ops.regionMap(r, List.of(new SparseArea(0, size)))));
            p.expect(problem == null, problem);
            if (got.get() != null && !got.get().isEmpty()) {
                Mappings.tearDown(p, ops, i, got.get()); // it mapped after all: release as the core would
            }
            return;
        }
        throw p.skip("no region with a size");
    }

    private static void mmapFlagMaps(Probe p) {
        DeviceIoOps ops = p.open();
        for (RegionInfo r : mappable(p, ops)) {
            List<SparseArea> areas = Mappings.requestable(r).orElseThrow();
            List<MappedArea> mapped = ops.regionMap(r, areas);
            if (mapped == null || mapped.isEmpty()) {
                p.problem(Describe.region(r.index()) + " is flagged MMAP but regionMap of " + Describe.areas(areas)
                        + " mapped nothing");
                continue;
            }
            Mappings.tearDown(p, ops, r.index(), mapped);
        }
    }

    private static void areasAsRequested(Probe p) {
        DeviceIoOps ops = p.open();
        for (RegionInfo r : mappable(p, ops)) {
            List<SparseArea> all = Mappings.requestable(r).orElseThrow();
            mapAndValidate(p, ops, r, all);
            if (all.size() > 1) {
                for (SparseArea one : all) {
                    mapAndValidate(p, ops, r, List.of(one));
                }
            }
        }
    }

    private static void mapAndValidate(Probe p, DeviceIoOps ops, RegionInfo r, List<SparseArea> requested) {
        List<MappedArea> mapped = ops.regionMap(r, requested);
        List<String> problems = Mappings.validate(r, requested, mapped);
        problems.forEach(p::problem);
        if (mapped != null && !mapped.isEmpty()) {
            Mappings.tearDown(p, ops, r.index(), mapped);
        }
    }

    private static void coherent(Probe p) {
        DeviceIoOps ops = p.open();
        List<RegionInfo> regions = mappable(p, ops);
        int done = 0;
        for (RegionInfo r : regions) {
            List<Scratch> memory = p.subject.hooks().scratch().stream()
                    .filter(s -> s.memoryLike() && s.region() == r.index()).toList();
            if (memory.isEmpty()) {
                continue;
            }
            List<MappedArea> mapped = ops.regionMap(r, Mappings.requestable(r).orElseThrow());
            if (mapped == null || mapped.isEmpty()) {
                continue;
            }
            try {
                for (MappedArea a : mapped) {
                    if (!Mappings.touchable(a)) {
                        p.problem("area " + Describe.area(new SparseArea(a.offset(), a.size())) + " of "
                                + Describe.region(r.index()) + " is not mapped shared and writable at "
                                + Describe.hex(a.address()));
                        continue;
                    }
                    ByteBuffer view = MappedMemory.adopt(a.address(), a.size()).view();
                    for (Scratch s : memory) {
                        long from = (Math.max(s.offset(), a.offset()) + 7) / 8 * 8;
                        long to = Math.min(s.end(), a.offset() + a.size()) - 8;
                        for (long off : new long[] {from, to / 8 * 8}) {
                            if (off < from || off > to) {
                                continue;
                            }
                            int at = (int) (off - a.offset());
                            long v = Io.pattern(8);
                            view.putLong(at, v);
                            long read = Io.read(ops, r.index(), off, 8);
                            p.expect(read == v, "stored " + Describe.hex(v) + " through the mapping at " + Describe.hex(off)
                                    + " of " + Describe.region(r.index()) + ", regionRead returned " + Describe.hex(read));
                            long w = Io.pattern(8);
                            Io.write(ops, r.index(), off, 8, w, false);
                            long seen = view.getLong(at);
                            p.expect(seen == w, "regionWrite of " + Describe.hex(w) + " at " + Describe.hex(off) + " of "
                                    + Describe.region(r.index()) + " shows as " + Describe.hex(seen) + " through the mapping");
                            done++;
                        }
                    }
                }
            } finally {
                Mappings.tearDown(p, ops, r.index(), mapped);
            }
        }
        if (done == 0) {
            throw p.skip("needs a memory-like scratch range inside a mapped area");
        }
    }

    private static void unmapKeepsRange(Probe p) {
        DeviceIoOps ops = p.open();
        for (RegionInfo r : mappable(p, ops)) {
            List<MappedArea> mapped = ops.regionMap(r, Mappings.requestable(r).orElseThrow());
            if (mapped == null || mapped.isEmpty()) {
                continue;
            }
            Mappings.Teardown t = Mappings.tearDown(p, ops, r.index(), mapped);
            for (String gone : t.unmappedOrReplaced()) {
                p.problem("after the kit revoked " + Describe.region(r.index()) + " and called regionUnmap, the revoked"
                        + " range " + gone + "; the core owns revoked ranges and unmaps them itself");
            }
        }
    }

    private static void unmapReleases(Probe p) throws Exception {
        DeviceIoOps ops = p.open();
        List<RegionInfo> regions = mappable(p, ops);
        for (Leaks.Kind kind : Leaks.Kind.values()) {
            String leak = Leaks.measure(kind, "regionMap, revoke and regionUnmap", () -> {
                for (RegionInfo r : regions) {
                    List<MappedArea> mapped = ops.regionMap(r, Mappings.requestable(r).orElseThrow());
                    if (mapped == null || mapped.isEmpty()) {
                        throw new Problem(Describe.region(r.index()) + " could not be mapped again after regionUnmap");
                    }
                    Mappings.tearDown(p, ops, r.index(), mapped);
                }
            });
            if (leak != null) {
                p.problem(leak);
            }
        }
    }
}
