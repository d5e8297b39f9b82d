package vfio.backend.ioctl.internal.iommu;

import vfio.api.backend.DmaMemory;

/**
 * An IO address space that devices reach memory through: a type1 container, an iommufd IOAS, or no
 * IOMMU at all. Shared by every device attached to it, so IOVAs are unique per space, not per
 * device. Thread-safe.
 */
public interface DmaSpace {
    /**
     * Maps process memory for DMA.
     *
     * @param memory the memory (page aligned, a whole number of pages); owned by the caller
     * @param iova   the IOVA asked for (page aligned)
     * @param read   whether devices may read it
     * @param write  whether devices may write it
     * @return the IOVA devices must use for the memory's first byte
     * @throws vfio.api.device.BackendException if the kernel refused
     */
    long map(DmaMemory memory, long iova, boolean read, boolean write);

    /**
     * Unmaps a range mapped by {@link #map}.
     *
     * @throws vfio.api.device.BackendException if the kernel refused
     */
    void unmap(long iova, long size);

    /** @return whether {@link #map} ignores the requested IOVA and picks its own (no-IOMMU mode) */
    boolean choosesIova();

    /** @return a short description for messages, e.g. {@code type1v2 container /dev/vfio/vfio} */
    String describe();
}
