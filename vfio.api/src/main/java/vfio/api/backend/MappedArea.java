package vfio.api.backend;

/**
 * One area of a region that a backend mapped into this process.
 *
 * @param offset  offset of the area within the region, in bytes
 * @param size    size in bytes
 * @param address the process virtual address of the area's first byte, page aligned
 */
public record MappedArea(long offset, long size, long address) {
    /**
     * @throws IllegalArgumentException if a value is negative or the address is 0
     */
    public MappedArea {
        if (offset < 0 || size <= 0 || address == 0) {
            throw new IllegalArgumentException(
                    "bad mapped area: offset=" + offset + " size=" + size + " address=0x" + Long.toHexString(address));
        }
    }
}
