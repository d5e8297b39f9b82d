package vfio.backend.memory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.DmaMemory;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.backend.MappedArea;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;

/**
 * One memory device: a PCI function (vendor 0x1234, device 0xbeef) whose state is a file.
 *
 * <ul>
 * <li>BAR0, 64 KiB of plain memory. Mappable in two sparse areas, {@code [0, 0x4000)} and {@code
 * [0x8000, 0x10000)}; the hole between is reached through region read/write only.</li>
 * <li>BAR1, 4 KiB of registers, never mapped: a write of {@code v} to 0x00 fires MSI vector {@code
 * v}; 0x08 counts the interrupts fired; a write of 1 to 0x20 copies {@code length} (at 0x18) bytes
 * of BAR0 to the DMA address at 0x10 (the device's DMA engine).</li>
 * <li>BAR2, 64 KiB of plain memory, mappable as a whole (no sparse capability): the common case of
 * a fully mapped BAR.</li>
 * <li>Config space, 4 KiB, with the PCI header.</li>
 * <li>IRQs: INTx (1), MSI (4 vectors), MSI-X none.</li>
 * </ul>
 *
 * <p>Thread-safe: region I/O uses pread/pwrite on the file; IRQ and DMA tables are guarded by this
 * object's lock.
 */
final class MemoryDevice implements DeviceIoOps {
    static final long BAR0_SIZE = 0x10000;
    static final long BAR1_SIZE = 0x1000;
    static final long CONFIG_SIZE = Pci.CONFIG_SPACE_SIZE;
    static final long BAR0_OFFSET = 0;
    static final long BAR1_OFFSET = BAR0_OFFSET + BAR0_SIZE;
    static final long CONFIG_OFFSET = BAR1_OFFSET + BAR1_SIZE;
    static final long BAR2_SIZE = 0x10000;
    static final long BAR2_OFFSET = CONFIG_OFFSET + CONFIG_SIZE; // last, so earlier offsets never moved
    static final long FILE_SIZE = BAR2_OFFSET + BAR2_SIZE;
    static final int MSI_VECTORS = 4;
    static final int REG_FIRE = 0x00;
    static final int REG_FIRED = 0x08;
    static final int REG_DMA_ADDRESS = 0x10;
    static final int REG_DMA_LENGTH = 0x18;
    static final int REG_DMA_START = 0x20;
    private static final int EEXIST = 17;
    private static final int EINVAL = 22;
    private static final int EFAULT = 14;

    private final String name;
    private final Fd store;
    private final IrqSignal[][] signals = new IrqSignal[Pci.NUM_IRQS][];
    private final boolean[][] masked = new boolean[Pci.NUM_IRQS][];
    private final TreeMap<Long, Dma> dma = new TreeMap<>();
    private volatile boolean closed;

    private record Dma(long iova, DmaMemory memory) {
        long end() {
            return iova + memory.size();
        }
    }

    private MemoryDevice(String name, Fd store) {
        this.name = name;
        this.store = store;
    }

    static MemoryDevice open(String name, Map<String, String> options) {
        String path = MemoryBackend.STORE_DIR + "/" + name;
        try {
            java.nio.file.Files.createDirectories(java.nio.file.Path.of(MemoryBackend.STORE_DIR),
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
            // O_NOFOLLOW: a symlink planted in the directory cannot redirect the device to another file.
            Fd fd = Fd.open(path, Fd.O_RDWR | Fd.O_CREAT | Fd.O_NOFOLLOW, 0600);
            fd.truncate(FILE_SIZE);
            MemoryDevice device = new MemoryDevice(name, fd);
            device.writeConfigHeader();
            return device;
        } catch (ErrnoException e) {
            throw new BackendException(e.call(), e.errno(), e.errnoName(), "cannot open memory device " + name);
        } catch (java.io.IOException e) {
            throw new DeviceException("cannot create " + MemoryBackend.STORE_DIR + ": " + e.getMessage(), e);
        }
    }

    private void writeConfigHeader() throws ErrnoException {
        ByteBuffer h = ByteBuffer.allocate(0x40).order(ByteOrder.LITTLE_ENDIAN);
        h.putShort(0, (short) 0x1234).putShort(2, (short) 0xbeef); // vendor, device
        h.putInt(8, 0xff000001); // class: misc, revision 1
        store.pwrite(h.limit(12), CONFIG_OFFSET); // ids and class only: COMMAND keeps what was written
    }

    @Override
    public DeviceInfo deviceInfo() {
        return new DeviceInfo(DeviceInfo.FLAG_PCI | DeviceInfo.FLAG_RESET, Pci.NUM_REGIONS, Pci.NUM_IRQS);
    }

    @Override
    public Set<BackendCapability> capabilities() {
        return Set.of(BackendCapability.REGION_MAP, BackendCapability.DMA);
    }

    @Override
    public byte[] deviceFeature(int flags, byte[] payload) {
        throw new NotSupportedException("memory device " + name + " has no device features (ENOTTY)");
    }

    @Override
    public RegionInfo regionInfo(int index) {
        int rw = RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE;
        return switch (index) {
            case 0 -> new RegionInfo(0, rw | RegionInfo.FLAG_MMAP, BAR0_SIZE, BAR0_OFFSET,
                    List.of(new RegionCapability.SparseMmap(List.of(new SparseArea(0, 0x4000), new SparseArea(0x8000, 0x8000)))));
            case 1 -> new RegionInfo(1, rw, BAR1_SIZE, BAR1_OFFSET);
            case 2 -> new RegionInfo(2, rw | RegionInfo.FLAG_MMAP, BAR2_SIZE, BAR2_OFFSET);
            case Pci.REGION_CONFIG -> new RegionInfo(Pci.REGION_CONFIG, rw, CONFIG_SIZE, CONFIG_OFFSET);
            default -> {
                checkIndex(index, Pci.NUM_REGIONS, "regions");
                yield new RegionInfo(index, 0, 0, 0);
            }
        };
    }

    @Override
    public IrqInfo irqInfo(int index) {
        return switch (index) {
            case Pci.IRQ_INTX -> new IrqInfo(index, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE, 1);
            case Pci.IRQ_MSI -> new IrqInfo(index, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE, MSI_VECTORS);
            default -> {
                checkIndex(index, Pci.NUM_IRQS, "IRQ indexes");
                yield new IrqInfo(index, IrqInfo.FLAG_EVENTFD, 0);
            }
        };
    }

    private void checkIndex(int index, int count, String what) {
        if (index < 0 || index >= count) {
            throw new OutOfRangeException("memory device " + name + " has " + what + " 0.." + (count - 1) + ", not " + index);
        }
    }

    @Override
    public synchronized void setIrqs(IrqSet set) {
        int count = irqInfo(set.index()).count();
        if (set.start() + set.count() > count) {
            throw new BackendException("SET_IRQS", EINVAL, "EINVAL", "vectors " + set.start() + ".."
                    + (set.start() + set.count() - 1) + " of IRQ index " + set.index() + " (it has " + count + ")");
        }
        if (signals[set.index()] == null) {
            signals[set.index()] = new IrqSignal[count];
            masked[set.index()] = new boolean[count];
        }
        IrqSignal[] s = signals[set.index()];
        boolean[] m = masked[set.index()];
        if (set.action() == IrqSet.Action.TRIGGER && set.data() instanceof IrqSet.Data.None && set.count() == 0) {
            java.util.Arrays.fill(s, null);
            return;
        }
        for (int i = 0; i < set.count(); i++) {
            int v = set.start() + i;
            boolean selected = !(set.data() instanceof IrqSet.Data.Bools b) || b.values()[i];
            if (!selected) {
                continue;
            }
            switch (set.action()) {
                case MASK -> m[v] = true;
                case UNMASK -> m[v] = false;
                case TRIGGER -> {
                    if (set.data() instanceof IrqSet.Data.Signals sig) {
                        s[v] = sig.signals().get(i);
                    } else {
                        fire(set.index(), v);
                    }
                }
            }
        }
    }

    /** Fires a vector as the device would: dropped while masked or without a signal. */
    private synchronized void fire(int index, int vector) {
        IrqSignal[] s = signals[index];
        if (s != null && vector < s.length && s[vector] != null && !masked[index][vector]) {
            s[vector].signal();
        }
    }

    @Override
    public void regionRead(int index, long offset, ByteBuffer dst) {
        long base = regionInfo(index).offset();
        try {
            while (dst.hasRemaining()) {
                if (store.pread(dst, base + offset) == 0) {
                    throw new BackendException("pread", EFAULT, "EFAULT", "read past the end of memory device " + name);
                }
            }
        } catch (ErrnoException e) {
            throw new BackendException(e.call(), e.errno(), e.errnoName(), "region " + index + " of memory device " + name);
        }
    }

    @Override
    public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
        ByteBuffer value = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long base = regionInfo(index).offset();
        try {
            while (src.hasRemaining()) {
                store.pwrite(src, base + offset);
            }
        } catch (ErrnoException e) {
            throw new BackendException(e.call(), e.errno(), e.errnoName(), "region " + index + " of memory device " + name);
        }
        if (index == 1) {
            registerWritten(offset, value);
        }
    }

    /** BAR1 side effects, after the value is stored. */
    private void registerWritten(long offset, ByteBuffer value) {
        if (offset == REG_FIRE && value.remaining() >= 4) {
            int vector = value.getInt(value.position());
            if (vector >= 0 && vector < MSI_VECTORS) {
                fire(Pci.IRQ_MSI, vector);
                bumpFiredCounter();
            }
        } else if (offset == REG_DMA_START && value.remaining() >= 1 && (value.get(value.position()) & 1) != 0) {
            runDma();
        }
    }

    private void bumpFiredCounter() {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        regionRead(1, REG_FIRED, b);
        b.flip();
        long n = b.getLong(0) + 1;
        regionWrite(1, REG_FIRED, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n), false);
    }

    /** The DMA engine: copies BAR0[0, length) to the DMA address, bounds-checked against the mappings. */
    private synchronized void runDma() {
        ByteBuffer regs = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        regionRead(1, REG_DMA_ADDRESS, regs);
        long iova = regs.getLong(0);
        long length = regs.getLong(8);
        Map.Entry<Long, Dma> e = dma.floorEntry(iova);
        if (length <= 0 || length > BAR0_SIZE || e == null || iova + length > e.getValue().end() || iova + length < iova) {
            return; // a real device would raise an error interrupt; this one ignores the bad request
        }
        ByteBuffer data = ByteBuffer.allocate((int) length);
        regionRead(0, 0, data);
        ByteBuffer target = e.getValue().memory().memory();
        target.position((int) (iova - e.getKey()));
        target.put(data.flip());
    }

    @Override
    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
        List<MappedArea> mapped = new ArrayList<>();
        try {
            for (SparseArea a : areas) {
                MappedMemory m = MappedMemory.map(store, region.offset() + a.offset(), a.size(), true);
                mapped.add(new MappedArea(a.offset(), a.size(), m.address()));
            }
            return mapped;
        } catch (ErrnoException e) {
            // All or nothing: undo what was mapped (nobody has seen these addresses yet).
            for (MappedArea a : mapped) {
                try {
                    MappedMemory.adopt(a.address(), a.size()).unmap();
                } catch (ErrnoException ignored) {
                    // best effort on an error path
                }
            }
            throw new BackendException(e.call(), e.errno(), e.errnoName(), "mapping region " + region.index() + " of " + name);
        }
    }

    @Override
    public void regionUnmap(int index, List<MappedArea> areas) {
        // The core has already revoked these ranges and owns them; a file mapping holds nothing else.
    }

    @Override
    public synchronized void reset() {
        regionWrite(1, 0, ByteBuffer.allocate((int) BAR1_SIZE), false);
        for (boolean[] m : masked) {
            if (m != null) {
                java.util.Arrays.fill(m, false);
            }
        }
    }

    @Override
    public synchronized long dmaMap(DmaMemory memory, long iova, boolean deviceReads, boolean deviceWrites) {
        Map.Entry<Long, Dma> below = dma.floorEntry(iova + memory.size() - 1);
        if (below != null && below.getValue().end() > iova) {
            throw new BackendException("DMA_MAP", EEXIST, "EEXIST", "IOVA 0x" + Long.toHexString(iova) + "+0x"
                    + Long.toHexString(memory.size()) + " overlaps the mapping at 0x" + Long.toHexString(below.getKey()));
        }
        dma.put(iova, new Dma(iova, memory));
        return iova;
    }

    @Override
    public synchronized void dmaUnmap(long iova, long size) {
        Dma d = dma.get(iova);
        if (d == null || d.memory().size() != size) {
            throw new BackendException("DMA_UNMAP", EINVAL, "EINVAL", "no DMA mapping at 0x" + Long.toHexString(iova)
                    + " of size 0x" + Long.toHexString(size));
        }
        dma.remove(iova);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            dma.clear();
            java.util.Arrays.fill(signals, null);
            store.close();
        }
    }
}
