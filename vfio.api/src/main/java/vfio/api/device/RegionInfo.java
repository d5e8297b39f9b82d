package vfio.api.device;

import java.util.List;
import java.util.Optional;

/**
 * A region of a device, as {@code struct vfio_region_info} and its capability chain describe it.
 *
 * @param index        the region index (see {@link Pci} for PCI devices)
 * @param flags        {@link #FLAG_READ}, {@link #FLAG_WRITE}, {@link #FLAG_MMAP}
 * @param size         size in bytes; 0 for a region the device does not implement
 * @param offset       where the backend finds the region (the file offset of the region for the
 *                     Linux and vfio-user backends); meaningful only to the backend that reported it
 * @param capabilities the region's capability chain, in the order the backend reported it; never
 *                     null
 */
public record RegionInfo(int index, int flags, long size, long offset, List<RegionCapability> capabilities) {
    /** The region can be read. */
    public static final int FLAG_READ = 1;
    /** The region can be written. */
    public static final int FLAG_WRITE = 1 << 1;
    /** Parts of the region can be mapped into the process (see {@link #sparseAreas()}). */
    public static final int FLAG_MMAP = 1 << 2;
    /** The backend reported a capability chain (informational; {@link #capabilities()} holds it). */
    public static final int FLAG_CAPS = 1 << 3;

    /**
     * @throws IllegalArgumentException if {@code index} or {@code size} is negative
     */
    public RegionInfo {
        if (index < 0 || size < 0) {
            throw new IllegalArgumentException("bad region info: index=" + index + " size=" + size);
        }
        capabilities = List.copyOf(capabilities);
    }

    /** A region info without capabilities. */
    public RegionInfo(int index, int flags, long size, long offset) {
        this(index, flags, size, offset, List.of());
    }

    /** @return whether every bit of {@code flag} is set */
    public boolean has(int flag) {
        return (flags & flag) == flag;
    }

    /**
     * The sparse-mmap capability, if the backend reported one. Its areas are as reported: the core
     * validates them (skips empty areas, sorts, rejects overlaps and areas outside the region).
     *
     * @return the areas of the sparse-mmap capability, or empty if there is none (then a region with
     *         {@link #FLAG_MMAP} is mappable as a whole)
     */
    public Optional<List<RegionCapability.SparseArea>> sparseAreas() {
        for (RegionCapability c : capabilities) {
            if (c instanceof RegionCapability.SparseMmap s) {
                return Optional.of(s.areas());
            }
        }
        return Optional.empty();
    }

    /** @return the region type capability, if any */
    public Optional<RegionCapability.Type> type() {
        for (RegionCapability c : capabilities) {
            if (c instanceof RegionCapability.Type t) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** @return whether the region carries the MSI-X-mappable capability */
    public boolean msixMappable() {
        return capabilities.stream().anyMatch(c -> c instanceof RegionCapability.MsixMappable);
    }
}
