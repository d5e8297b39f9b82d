package vfio.backend.ioctl.internal.iommu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import vfio.api.backend.DmaMemory;
import vfio.api.device.BackendException;
import vfio.posix.MappedMemory;

/**
 * DMA without an IOMMU: the device sees physical addresses, so a "mapping" is the physical address
 * of the memory, read from {@code /proc/self/pagemap} (which shows physical frame numbers only to
 * CAP_SYS_ADMIN).
 *
 * <p><b>Unsafe by nature:</b> nothing stops the device from reading or writing any physical memory,
 * and nothing pins the pages against migration by the kernel (compaction, NUMA balancing): the
 * physical address is right when {@link #map} returns and stays right only as long as the kernel
 * leaves the pages where they are. That is why the backend opens no-IOMMU devices only with the
 * explicit option {@code noiommu=unsafe}. The memory must be physically contiguous; buffers of one
 * page always are.
 */
final class NoIommuDma {
    private static final long PRESENT = 1L << 63;
    private static final long PFN_MASK = (1L << 55) - 1;

    private final Map<Long, Long> mapped = new ConcurrentHashMap<>();

    long map(DmaMemory memory) {
        long page = MappedMemory.pageSize();
        ByteBuffer view = memory.memory();
        // Fault every page in, writable, without changing its contents: pagemap shows only present pages.
        for (int i = 0; i < view.limit(); i += (int) page) {
            view.put(i, view.get(i));
        }
        long first = -1;
        try (FileChannel pagemap = FileChannel.open(Path.of("/proc/self/pagemap"), StandardOpenOption.READ)) {
            ByteBuffer entry = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
            for (long off = 0; off < memory.size(); off += page) {
                entry.clear();
                long vpn = (memory.address() + off) / page;
                if (pagemap.read(entry, vpn * 8) != 8) {
                    throw fail("short read of /proc/self/pagemap");
                }
                long e = entry.getLong(0);
                long pfn = e & PFN_MASK;
                if ((e & PRESENT) == 0 || pfn == 0) {
                    throw fail("no physical address for 0x" + Long.toHexString(memory.address() + off)
                            + " in /proc/self/pagemap: no-IOMMU DMA needs CAP_SYS_ADMIN (run as root)");
                }
                long phys = pfn * page;
                if (off == 0) {
                    first = phys;
                } else if (phys != first + off) {
                    throw fail("the " + memory.size() + "-byte buffer is not physically contiguous (page " + off / page
                            + " is elsewhere): without an IOMMU use buffers of one page");
                }
            }
        } catch (IOException e) {
            throw fail("cannot read /proc/self/pagemap: " + e.getMessage());
        }
        mapped.put(first, memory.size());
        return first;
    }

    void unmap(long iova) {
        if (mapped.remove(iova) == null) {
            throw new BackendException("VFIO_IOMMU_UNMAP_DMA", 0, null,
                    "nothing is mapped at physical address 0x" + Long.toHexString(iova));
        }
    }

    private static BackendException fail(String what) {
        return new BackendException("VFIO_IOMMU_MAP_DMA", 0, null, "no-IOMMU DMA: " + what);
    }
}
