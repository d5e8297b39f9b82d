/**
 * A simulated VFIOUserPCIDriver dext: a {@link vfio.backend.apple.dext.DextConnector} with the
 * behaviour the reference gives the real one (identity and BDF matching, claim counts, config space
 * with a real PCI header and capability list, BARs as real shared memory that can be mapped, the
 * pending bitmap with enable mask, one-shot WaitInterrupt, reset, DMA registration with
 * platform-chosen bus addresses), a device-model hook (an edu-like model is included) and fault
 * injection. It lets everything above the IOKit seam run on Linux; it is also an OSGi component
 * (enabled by the configuration {@code vfio.backend.apple.sim}).
 *
 * <p>Linux only: BAR memory is a memfd ({@link vfio.posix.MemFd}).
 */
package vfio.backend.apple.sim;
