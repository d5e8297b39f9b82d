package vfio.core.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MemFd;

/**
 * The "hardware": region contents that outlive any backend opened on them, as a real device's
 * registers outlive its driver. One memfd per implemented region. Thread-safe.
 */
public final class MemoryDevice implements AutoCloseable {
    /** MSI vectors the device offers at {@link Pci#IRQ_MSI}. */
    public static final int MSI_VECTORS = 4;

    private final String address;
    private final RegionInfo[] regions;
    private final Fd[] memory;

    private MemoryDevice(String address, RegionInfo[] regions, Path directory) throws ErrnoException {
        this.address = address;
        this.regions = regions;
        this.memory = new Fd[regions.length];
        for (int i = 0; i < regions.length; i++) {
            if (regions[i].size() > 0) {
                memory[i] = directory == null ? MemFd.create("memdev-" + Pci.regionName(i), regions[i].size())
                        : openFile(directory.resolve(Pci.regionName(i)), regions[i].size());
            }
        }
    }

    private static Fd openFile(Path file, long size) throws ErrnoException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            if (f.length() < size) {
                f.setLength(size);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create device memory file " + file, e);
        }
        return Fd.open(file.toString(), Fd.O_RDWR);
    }

    /**
     * A PCI-like device: bar0 64 KiB mappable as a whole; bar2 16 KiB with sparse areas [0, 4K)
     * and [8K, 12K) (plus a zero-size one the core must skip); config 4 KiB not mappable; the other
     * regions absent.
     */
    public static MemoryDevice pci(String address) throws ErrnoException {
        return pci(address, null);
    }

    /**
     * As {@link #pci(String)}, but the region contents live in files {@code bar0}, {@code bar2},
     * {@code config} of {@code directory} (use a tmpfs such as {@code /dev/shm}), created if missing.
     * Two devices on the same directory share their memory, so values survive replacing the backend
     * (a bundle update in an integration test creates a new device on the same files).
     *
     * @param directory where the region files live; null for memfds
     */
    public static MemoryDevice pci(String address, Path directory) throws ErrnoException {
        int rw = RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE;
        RegionInfo[] r = new RegionInfo[Pci.NUM_REGIONS];
        for (int i = 0; i < r.length; i++) {
            r[i] = new RegionInfo(i, 0, 0, 0);
        }
        r[0] = new RegionInfo(0, rw | RegionInfo.FLAG_MMAP, 64 * 1024, 0);
        r[2] = new RegionInfo(2, rw | RegionInfo.FLAG_MMAP | RegionInfo.FLAG_CAPS, 16 * 1024, 0,
                List.of(new RegionCapability.SparseMmap(List.of(new SparseArea(8192, 4096), new SparseArea(4096, 0),
                        new SparseArea(0, 4096)))));
        r[Pci.REGION_CONFIG] = new RegionInfo(Pci.REGION_CONFIG, rw, Pci.CONFIG_SPACE_SIZE, 0);
        return new MemoryDevice(address, r, directory);
    }

    /** A device with exactly the given regions (index i at position i), for layout tests. */
    public static MemoryDevice of(String address, List<RegionInfo> regions) throws ErrnoException {
        return new MemoryDevice(address, regions.toArray(new RegionInfo[0]), null);
    }

    /** @return the address backends match */
    public String address() {
        return address;
    }

    DeviceInfo info() {
        return new DeviceInfo(DeviceInfo.FLAG_PCI | DeviceInfo.FLAG_RESET, regions.length, Pci.NUM_IRQS);
    }

    RegionInfo region(int index) {
        return regions[index];
    }

    IrqInfo irq(int index) {
        return switch (index) {
            case Pci.IRQ_INTX -> new IrqInfo(index, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE | IrqInfo.FLAG_AUTOMASKED, 1);
            case Pci.IRQ_MSI -> new IrqInfo(index, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE, MSI_VECTORS);
            default -> new IrqInfo(index, 0, 0);
        };
    }

    Fd memory(int index) {
        return memory[index];
    }

    /** Reads region memory as the device sees it (pread, no mapping involved). */
    public long peek(int region, long offset, int width) throws ErrnoException {
        ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.LITTLE_ENDIAN);
        b.limit(width);
        memory[region].pread(b, offset);
        return switch (width) {
            case 1 -> b.get(0) & 0xffL;
            case 2 -> b.getShort(0) & 0xffffL;
            case 4 -> b.getInt(0) & 0xffffffffL;
            default -> b.getLong(0);
        };
    }

    /** Writes region memory as the device would (pwrite). */
    public void poke(int region, long offset, int width, long value) throws ErrnoException {
        ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, value);
        b.limit(width);
        memory[region].pwrite(b, offset);
    }

    /** @return the regions, for assertions */
    public List<RegionInfo> regions() {
        return new ArrayList<>(List.of(regions));
    }

    @Override
    public void close() {
        for (Fd fd : memory) {
            if (fd != null) {
                fd.close();
            }
        }
    }
}
