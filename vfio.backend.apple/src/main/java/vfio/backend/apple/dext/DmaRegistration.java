package vfio.backend.apple.dext;

/**
 * What RegisterDMARegion (selector 5) reports.
 *
 * @param segments   number of bus segments the dext needed for the memory
 * @param busAddress the bus address the device must use for the first byte, chosen by the platform
 * @param busLength  length of the first segment in bytes
 */
public record DmaRegistration(long segments, long busAddress, long busLength) {
}
