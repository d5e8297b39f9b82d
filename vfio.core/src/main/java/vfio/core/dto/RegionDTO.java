package vfio.core.dto;

import org.osgi.dto.DTO;

/** A region of a device, as the current or last backend reported it. */
public class RegionDTO extends DTO {
    /** The region index. */
    public int index;
    /** {@code bar0} .. {@code bar5}, {@code rom}, {@code config}, {@code vga} or {@code regionN}. */
    public String name;
    /** Size in bytes (0: not implemented by the device). */
    public long size;
    /** {@code VFIO_REGION_INFO_FLAG_*} bits. */
    public int flags;
    /** Whether the driver allows the mapped fast path (see {@code Region.setMappingEnabled}). */
    public boolean mappingEnabled;
    /** Offsets (within the region) of the ranges accessed through the fast path right now. */
    public long[] mappedOffsets;
    /** Sizes of those ranges, same order as {@link #mappedOffsets}. */
    public long[] mappedSizes;
}
