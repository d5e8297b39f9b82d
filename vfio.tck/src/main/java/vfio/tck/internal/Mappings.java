package vfio.tck.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.MappedArea;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.ErrnoException;
import vfio.posix.MappedMemory;

/**
 * Region mapping as the core does it: which areas to ask for ({@code vfio.core}'s region layout,
 * restated here so the kit needs nothing but the API), checking what the backend returned, and the
 * teardown: revoke every area (replace its pages with private anonymous memory), then {@code
 * regionUnmap}, then see whether the backend left the revoked ranges alone.
 */
final class Mappings {
    private Mappings() {
    }

    /**
     * @return the areas the core would ask to map: the sparse areas (empty ones dropped, sorted), or
     *         the whole region if it has FLAG_MMAP and no sparse-mmap capability; empty if the region
     *         is not mappable or its areas are invalid (overlapping or outside the region)
     */
    static Optional<List<SparseArea>> requestable(RegionInfo info) {
        if (!info.has(RegionInfo.FLAG_MMAP) || info.size() == 0) {
            return Optional.empty();
        }
        Optional<List<SparseArea>> sparse = info.sparseAreas();
        if (sparse.isEmpty()) {
            return Optional.of(List.of(new SparseArea(0, info.size())));
        }
        List<SparseArea> areas = new ArrayList<>();
        for (SparseArea a : sparse.get()) {
            if (a.size() < 0 || a.offset() < 0) {
                return Optional.empty();
            }
            if (a.size() > 0) {
                areas.add(a);
            }
        }
        areas.sort(Comparator.comparingLong(SparseArea::offset));
        SparseArea previous = null;
        for (SparseArea a : areas) {
            if (a.offset() > info.size() || a.size() > info.size() - a.offset()
                    || previous != null && a.offset() < previous.end()) {
                return Optional.empty();
            }
            previous = a;
        }
        return areas.isEmpty() ? Optional.empty() : Optional.of(List.copyOf(areas));
    }

    /** @return the regions the core would map on this device */
    static List<RegionInfo> mappableRegions(DeviceIoOps ops) {
        List<RegionInfo> out = new ArrayList<>();
        if (!ops.capabilities().contains(BackendCapability.REGION_MAP)) {
            return out;
        }
        int n = ops.deviceInfo().numRegions();
        for (int i = 0; i < n; i++) {
            RegionInfo r = ops.regionInfo(i);
            if (requestable(r).isPresent()) {
                out.add(r);
            }
        }
        return out;
    }

    /**
     * Checks what {@code regionMap} returned against what was asked, as the core does, plus that each
     * area really is a shared, readable and writable mapping of this process.
     *
     * @return the problems found; empty if the areas are usable
     */
    static List<String> validate(RegionInfo region, List<SparseArea> requested, List<MappedArea> mapped) {
        List<String> problems = new ArrayList<>();
        String where = "regionMap of " + Describe.region(region.index()) + " asked for " + Describe.areas(requested);
        if (mapped == null) {
            problems.add(where + " returned null; return an empty list if nothing was mapped");
            return problems;
        }
        List<SparseArea> left = new ArrayList<>(requested);
        long previousEnd = 0;
        List<ProcSelf.Mapping> maps = ProcSelf.available() ? ProcSelf.maps() : null;
        for (MappedArea a : mapped) {
            SparseArea as = new SparseArea(a.offset(), a.size());
            if (!left.remove(as)) {
                problems.add(where + " returned area " + Describe.area(as) + ", which was not asked for (or twice)");
            }
            if (a.offset() < previousEnd) {
                problems.add(where + " returned area " + Describe.area(as) + " out of order");
            }
            previousEnd = as.end();
            if ((a.address() & (MappedMemory.pageSize() - 1)) != 0) {
                problems.add(where + " returned area " + Describe.area(as) + " at address " + Describe.hex(a.address())
                        + ", not page aligned");
            }
            if (maps != null && !ProcSelf.covered(maps, a.address(), a.size(),
                    m -> m.readable() && m.writable() && m.shared())) {
                problems.add(where + " returned area " + Describe.area(as) + " at " + Describe.hex(a.address())
                        + ", which is not mapped shared, readable and writable in this process: "
                        + ProcSelf.overlapping(maps, a.address(), a.size()));
            }
        }
        return problems;
    }

    /** @return whether an area may be touched: mapped shared, readable and writable */
    static boolean touchable(MappedArea a) {
        return ProcSelf.available() && ProcSelf.covered(ProcSelf.maps(), a.address(), a.size(),
                m -> m.readable() && m.writable() && m.shared());
    }

    /** What happened to the revoked ranges across {@code regionUnmap}. */
    record Teardown(List<String> unmappedOrReplaced, List<String> notRevoked) {
        boolean clean() {
            return unmappedOrReplaced.isEmpty();
        }
    }

    /**
     * Tears a mapping down as the core does: revokes every area that is really mapped shared (an area
     * at a bogus address is left alone: replacing it could hit the JVM's own memory), marks each
     * revoked range with a random value, calls {@code regionUnmap} once, then checks that each
     * revoked range is still the kit's private anonymous memory with its mark. Ranges that are hand
     * to the probe, which unmaps them at the end of the check; ranges the backend unmapped or
     * replaced are left alone (they may be someone else's by now).
     */
    static Teardown tearDown(Probe probe, DeviceIoOps ops, int index, List<MappedArea> mapped) {
        List<MappedMemory> revoked = new ArrayList<>();
        List<Long> marks = new ArrayList<>();
        List<String> notRevoked = new ArrayList<>();
        for (MappedArea a : mapped) {
            if (!touchable(a)) {
                notRevoked.add(Describe.hex(a.address()) + "+" + Describe.hex(a.size()));
                continue;
            }
            MappedMemory m = MappedMemory.adopt(a.address(), a.size());
            try {
                m.revoke();
            } catch (ErrnoException e) {
                throw new Problem("the kit could not revoke " + m + ": " + e.getMessage());
            }
            long mark = ThreadLocalRandom.current().nextLong() | 1;
            m.view().putLong(0, mark);
            revoked.add(m);
            marks.add(mark);
        }
        ops.regionUnmap(index, mapped);
        List<String> gone = new ArrayList<>();
        List<ProcSelf.Mapping> maps = ProcSelf.maps();
        for (int i = 0; i < revoked.size(); i++) {
            MappedMemory m = revoked.get(i);
            boolean ours = ProcSelf.covered(maps, m.address(), m.size(), ProcSelf.Mapping::privateAnonymous)
                    && m.view().getLong(0) == marks.get(i);
            if (ours) {
                probe.placeholder(m);
            } else {
                gone.add(Describe.hex(m.address()) + "+" + Describe.hex(m.size()) + " is now "
                        + (ProcSelf.overlapping(maps, m.address(), m.size()).isEmpty() ? "unmapped"
                                : ProcSelf.overlapping(maps, m.address(), m.size()).toString()));
            }
        }
        return new Teardown(gone, notRevoked);
    }
}
