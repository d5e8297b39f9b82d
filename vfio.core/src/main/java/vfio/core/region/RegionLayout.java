package vfio.core.region;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import vfio.api.device.DeviceException;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

/**
 * Decides which areas of a region the core asks a backend to map, as {@code
 * vfio_setup_region_sparse_mmaps} does in QEMU: with a sparse-mmap capability its areas (empty ones
 * skipped, sorted by offset, checked); without one, a region flagged {@link RegionInfo#FLAG_MMAP} is
 * one area covering it. A region without that flag is not mapped at all.
 */
public final class RegionLayout {
    private RegionLayout() {
    }

    /**
     * @param device the device name, for the message
     * @param info   the region as the backend reported it
     * @return the areas to map: none empty, sorted by offset, not overlapping, all inside the region;
     *         empty if the region is not mappable
     * @throws InvalidLayoutException if the sparse-mmap areas overlap or reach outside the region;
     *                                the message names the region and the areas
     */
    public static List<SparseArea> mappableAreas(String device, RegionInfo info) {
        if (!info.has(RegionInfo.FLAG_MMAP) || info.size() == 0) {
            return List.of();
        }
        Optional<List<SparseArea>> sparse = info.sparseAreas();
        if (sparse.isEmpty()) {
            return List.of(new SparseArea(0, info.size()));
        }
        List<SparseArea> areas = new ArrayList<>();
        for (SparseArea a : sparse.get()) {
            if (a.size() < 0 || a.offset() < 0) {
                throw new InvalidLayoutException(where(device, info) + ": sparse mmap area " + describe(a)
                        + " has a negative offset or size");
            }
            if (a.size() > 0) {
                areas.add(a);
            }
        }
        areas.sort(Comparator.comparingLong(SparseArea::offset));
        SparseArea previous = null;
        for (SparseArea a : areas) {
            if (a.offset() > info.size() || a.size() > info.size() - a.offset()) {
                throw new InvalidLayoutException(where(device, info) + ": sparse mmap area " + describe(a)
                        + " reaches past the end of the region (size 0x" + Long.toHexString(info.size()) + ")");
            }
            if (previous != null && a.offset() < previous.end()) {
                throw new InvalidLayoutException(where(device, info) + ": sparse mmap areas " + describe(previous)
                        + " and " + describe(a) + " overlap");
            }
            previous = a;
        }
        return List.copyOf(areas);
    }

    private static String where(String device, RegionInfo info) {
        return "region " + Pci.regionName(info.index()) + " (index " + info.index() + ") of device " + device;
    }

    static String describe(SparseArea a) {
        return "[0x" + Long.toHexString(a.offset()) + ", 0x" + Long.toHexString(a.end()) + ")";
    }

    /** The backend's sparse-mmap capability of a region cannot be used; the region is not mapped. */
    public static final class InvalidLayoutException extends DeviceException {
        private static final long serialVersionUID = 1L;

        InvalidLayoutException(String message) {
            super(message + "; the region is used through region read/write only");
        }
    }
}
