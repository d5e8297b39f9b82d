package vfio.api.backend;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import org.osgi.annotation.versioning.ProviderType;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

/**
 * The operations on one open device: the Java form of QEMU's {@code VFIODeviceIOOps} after the
 * {@code region_map}/{@code region_unmap} change, plus the device-level calls (info, reset, DMA).
 * Obtained from {@link BackendFactory#open}; owned by the caller, who calls {@link #close()} once.
 *
 * <p><b>Threading:</b> every method may be called from several threads at once, including region
 * read and write concurrently with each other and with IRQ and DMA calls. {@link #close()} is
 * called after all other calls have returned and no new ones start.
 *
 * <p><b>Errors:</b> the core checks indexes, offsets and sizes against the infos the backend
 * reported before calling, so a backend may treat a violation as a bug ({@link
 * IllegalArgumentException}). A refusal by the kernel, server or dext is a {@link BackendException}
 * (with errno and operation); an operation this backend lacks is a {@link NotSupportedException}; a
 * peer that is gone or did not answer within the {@link OpenRequest#timeout()} is a {@link
 * DeviceUnavailableException}, after which the core closes the operations and rebinds.
 */
@ProviderType
public interface DeviceIoOps extends AutoCloseable {
    /** {@link #deviceFeature} flag: read the feature ({@code VFIO_DEVICE_FEATURE_GET}). */
    int FEATURE_GET = 1 << 16;
    /** {@link #deviceFeature} flag: write the feature ({@code VFIO_DEVICE_FEATURE_SET}). */
    int FEATURE_SET = 1 << 17;
    /** {@link #deviceFeature} flag: only ask whether GET/SET would work ({@code VFIO_DEVICE_FEATURE_PROBE}). */
    int FEATURE_PROBE = 1 << 18;
    /** {@link #deviceFeature} mask of the feature number in the flags. */
    int FEATURE_MASK = 0xffff;

    /** @return the device info (flags, region and IRQ counts); constant while open */
    DeviceInfo deviceInfo();

    /** @return what this backend can do for this device; constant while open */
    Set<BackendCapability> capabilities();

    /**
     * {@code VFIO_DEVICE_FEATURE}: reads, writes or probes a device feature.
     *
     * @param flags   the feature number ({@link #FEATURE_MASK} bits) or'ed with {@link #FEATURE_GET},
     *                {@link #FEATURE_SET} and/or {@link #FEATURE_PROBE}
     * @param payload the feature's argument bytes (for SET, and for GET features that take input);
     *                empty if none
     * @return the bytes the feature returned (GET), or an empty array (SET, PROBE)
     * @throws NotSupportedException if the device or backend lacks the feature (ENOTTY)
     * @throws BackendException      for any other refusal
     */
    byte[] deviceFeature(int flags, byte[] payload);

    /**
     * @param index a region index below {@link DeviceInfo#numRegions()}
     * @return the region's info with its whole capability chain
     */
    RegionInfo regionInfo(int index);

    /**
     * @param index an IRQ index below {@link DeviceInfo#numIrqs()}
     * @return the IRQ index's info
     */
    IrqInfo irqInfo(int index);

    /**
     * {@code VFIO_DEVICE_SET_IRQS}: enables, disables, masks, unmasks or triggers vectors.
     *
     * @param set what to do; its signals stay owned by the core, which keeps them open at least
     *            until the vectors are disabled again or the operations are closed
     */
    void setIrqs(IrqSet set);

    /**
     * Reads {@code dst.remaining()} bytes of region {@code index} starting at {@code offset} into
     * {@code dst}, advancing its position. Accesses of 1, 2, 4 and 8 bytes are performed as one access
     * of that width where the transport allows.
     *
     * @throws OutOfRangeException never for core calls (the core checks); a backend may still throw it
     */
    void regionRead(int index, long offset, ByteBuffer dst);

    /**
     * Writes {@code src.remaining()} bytes to region {@code index} at {@code offset}, advancing
     * {@code src}'s position.
     *
     * @param posted whether the call may return before the write completed (only honoured with
     *               {@link BackendCapability#POSTED_WRITES}); a posted write's failure may be lost
     */
    void regionWrite(int index, long offset, ByteBuffer src, boolean posted);

    /**
     * {@code region_map}: maps the given areas of a region into this process.
     *
     * <p>The core has validated the areas: none empty, sorted by offset, not overlapping, all inside
     * the region. The backend maps each area shared (so stores reach the device), readable, and
     * writable if the region is ({@link RegionInfo#FLAG_WRITE}: the core stores through a mapping
     * only then, and loads only from a region with {@link RegionInfo#FLAG_READ}), and returns the
     * ones it mapped, in the same order; it may leave an area out (then the
     * core uses read/write there). All or nothing on failure: if it throws, nothing stays mapped.
     *
     * @param region the region's info, as this backend reported it
     * @param areas  the areas to map
     * @return the mapped areas; empty if this region cannot be mapped
     * @throws NotSupportedException if the backend cannot map at all (no {@link
     *                               BackendCapability#REGION_MAP})
     * @throws BackendException      if mapping failed
     */
    List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas);

    /**
     * {@code region_unmap}: releases what {@link #regionMap} set up for a region. Called exactly once
     * for every successful {@code regionMap} that returned areas, before {@link #close()}.
     *
     * <p><b>Revocation is the core's job:</b> before this call the core has replaced the pages of
     * every area with private anonymous memory it owns, so no thread can reach the device through
     * those addresses any more, even one that raced with the unmap; the core unmaps that memory once
     * nothing refers to it. The backend therefore <em>must not unmap or remap the address ranges</em>;
     * it releases everything else it holds for them (file descriptors, dma-bufs, kernel objects).
     *
     * @param index the region index
     * @param areas the areas {@code regionMap} returned
     */
    void regionUnmap(int index, List<MappedArea> areas);

    /**
     * Resets the device ({@code VFIO_DEVICE_RESET}).
     *
     * @throws NotSupportedException if the device has no reset
     */
    void reset();

    /**
     * Maps memory for DMA by the device ({@code VFIO_IOMMU_MAP_DMA}, IOAS map, vfio-user {@code
     * DMA_MAP}, Apple {@code RegisterDMARegion}).
     *
     * @param memory      the memory; stays owned by the core, valid until {@link #dmaUnmap}
     * @param iova        the IO virtual address the caller asks for (page aligned); a backend with
     *                    {@link BackendCapability#DMA_IOVA_CHOSEN_BY_BACKEND} may return another
     * @param deviceReads whether the device may read the memory
     * @param deviceWrites whether the device may write the memory
     * @return the IOVA the device must use for the first byte of {@code memory}
     * @throws NotSupportedException without {@link BackendCapability#DMA}
     * @throws BackendException      if the mapping was refused (overlap, no space, ...)
     */
    long dmaMap(DmaMemory memory, long iova, boolean deviceReads, boolean deviceWrites);

    /**
     * Unmaps a DMA mapping made by {@link #dmaMap}.
     *
     * @param iova the IOVA {@code dmaMap} returned
     * @param size the size that was mapped
     */
    void dmaUnmap(long iova, long size);

    /**
     * Reads migration data (vfio-user {@code MIG_DATA_READ}, the kernel's migration data fd) into
     * {@code dst}, after a device feature moved the device into a saving state.
     *
     * @return the number of bytes read; 0 at the end of the data
     * @throws NotSupportedException if the device has no migration support (the default)
     */
    default int migrationDataRead(ByteBuffer dst) {
        throw new NotSupportedException("this backend does not support migration");
    }

    /**
     * Writes migration data into a device in a resuming state.
     *
     * @throws NotSupportedException if the device has no migration support (the default)
     */
    default void migrationDataWrite(ByteBuffer src) {
        throw new NotSupportedException("this backend does not support migration");
    }

    /**
     * Closes the device: disables IRQs, drops DMA mappings and releases every resource. The core has
     * already called {@link #regionUnmap} for every mapped region. Must not throw and must be
     * idempotent. Any other call after close fails with a {@link vfio.api.device.DeviceException}
     * (never touches released memory or descriptors).
     */
    @Override
    void close();
}
