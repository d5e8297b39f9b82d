package vfio.core.dma;

import java.util.Map;
import java.util.TreeMap;
import vfio.api.device.DeviceException;

/**
 * Hands out IO virtual addresses for a device's DMA buffers: first fit, starting at {@link #FIRST},
 * never overlapping, below the caller's limit. Sizes must be page multiples, so every IOVA is page
 * aligned. Thread-safe.
 */
public final class IovaAllocator {
    /** The lowest IOVA handed out (1 MiB: keeps 0 and the low legacy range unused). */
    public static final long FIRST = 0x10_0000L;

    /**
     * The allocator all devices share. Devices in one VFIO container or iommufd IOAS share one IO
     * address space, and the core cannot see which devices a backend put together; IOVAs that are
     * unique across the platform never collide in any such grouping.
     */
    public static final IovaAllocator PLATFORM = new IovaAllocator();

    private final TreeMap<Long, Long> used = new TreeMap<>();

    /**
     * @param size    bytes, a positive page multiple
     * @param maxIova the highest IOVA the device can address, or -1 for no limit
     * @return the IOVA of the first byte; {@code iova + size - 1 <= maxIova}
     * @throws DeviceException if no free range fits below the limit
     */
    public synchronized long allocate(long size, long maxIova) {
        long limit = maxIova < 0 ? Long.MAX_VALUE : maxIova;
        long candidate = FIRST;
        for (Map.Entry<Long, Long> e : used.entrySet()) {
            if (e.getKey() - candidate >= size) {
                break; // fits in the gap before this range
            }
            candidate = Math.max(candidate, e.getKey() + e.getValue());
        }
        if (candidate > limit || size - 1 > limit - candidate) {
            throw new DeviceException("no free IOVA range of 0x" + Long.toHexString(size) + " bytes at or below 0x"
                    + Long.toHexString(limit) + " (" + used.size() + " buffers mapped); free buffers or raise maxIova");
        }
        used.put(candidate, size);
        return candidate;
    }

    /** Returns a range handed out by {@link #allocate}. */
    public synchronized void release(long iova) {
        used.remove(iova);
    }
}
