package vfio.core.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.DmaMemory;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.backend.MappedArea;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.ErrnoException;
import vfio.posix.EventFd;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;

/**
 * The operations of one open {@link MemoryDevice}. Regions map the device's memfds; the slow path
 * reads and writes the same memfds. Interrupt delivery: {@link #fire} writes the core's eventfd
 * (through a duplicate, as a kernel holds its own reference) when the backend has {@link
 * BackendCapability#IRQ_SIGNAL_FD}, and calls {@link IrqSignal#signal()} otherwise.
 */
public final class MemoryDeviceOps implements DeviceIoOps {
    private static final long MARKER = 0x5EA1_ED00_C0DE_0001L;

    private final MemoryBackendFactory factory;
    private final MemoryDevice device;
    private final Set<BackendCapability> capabilities;
    private final long iovaBase;
    private final Map<Integer, List<MappedArea>> mapped = new ConcurrentHashMap<>();
    private final Map<Long, DmaMapping> dma = new ConcurrentHashMap<>();
    private final Map<Integer, IrqSignal[]> signals = new HashMap<>();
    private final Map<Integer, BitSet> masked = new HashMap<>();
    private final List<IrqSet> irqSets = new ArrayList<>();
    private volatile boolean closed;
    private volatile String dead;
    private long nextIova;

    /** A DMA mapping as the "device" sees it: its own mapping of the memfd. */
    private record DmaMapping(long iova, long size, DmaMemory memory, Fd fd, MappedMemory deviceView) {
    }

    MemoryDeviceOps(MemoryBackendFactory factory, MemoryDevice device, Set<BackendCapability> capabilities, long iovaBase) {
        this.factory = factory;
        this.device = device;
        this.capabilities = capabilities;
        this.iovaBase = iovaBase;
        this.nextIova = iovaBase;
    }

    /** Makes every later call (but close) throw {@link DeviceUnavailableException}: the peer died. */
    public void die(String why) {
        dead = why;
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return closed;
    }

    private void check(String op) {
        if (closed) {
            factory.violations.add(op + " called after close");
            throw new IllegalStateException(op + " after close");
        }
        String d = dead;
        if (d != null) {
            throw new DeviceUnavailableException("memory backend " + factory.id() + " is gone: " + d);
        }
    }

    @Override
    public DeviceInfo deviceInfo() {
        check("deviceInfo");
        return device.info();
    }

    @Override
    public Set<BackendCapability> capabilities() {
        return capabilities;
    }

    @Override
    public byte[] deviceFeature(int flags, byte[] payload) {
        check("deviceFeature");
        throw new NotSupportedException("memory device has no features");
    }

    @Override
    public RegionInfo regionInfo(int index) {
        check("regionInfo");
        return device.region(index);
    }

    @Override
    public IrqInfo irqInfo(int index) {
        check("irqInfo");
        return device.irq(index);
    }

    @Override
    public synchronized void setIrqs(IrqSet set) {
        check("setIrqs");
        irqSets.add(set);
        IrqInfo info = device.irq(set.index());
        if (set.start() + set.count() > info.count()) {
            throw new BackendException("VFIO_DEVICE_SET_IRQS", 22, "EINVAL", "vectors past " + info.count());
        }
        BitSet m = masked.computeIfAbsent(set.index(), k -> new BitSet());
        switch (set.action()) {
            case TRIGGER -> {
                if (set.data() instanceof IrqSet.Data.Signals s) {
                    IrqSignal[] current = signals.computeIfAbsent(set.index(), k -> new IrqSignal[info.count()]);
                    for (int i = 0; i < set.count(); i++) {
                        current[set.start() + i] = s.signals().get(i);
                    }
                } else if (set.count() == 0) {
                    signals.remove(set.index());
                    m.clear();
                } else {
                    for (int v = set.start(); v < set.start() + set.count(); v++) {
                        fireLocked(set.index(), v);
                    }
                }
            }
            case MASK -> m.set(set.start(), set.start() + set.count());
            case UNMASK -> m.clear(set.start(), set.start() + set.count());
        }
    }

    /** @return every IRQ set request received, in order */
    public synchronized List<IrqSet> irqSets() {
        return List.copyOf(irqSets);
    }

    /** @return the signal currently routed for a vector, or null */
    public synchronized IrqSignal signal(int index, int vector) {
        IrqSignal[] s = signals.get(index);
        return s == null ? null : s[vector];
    }

    /** @return whether a vector is masked */
    public synchronized boolean isMasked(int index, int vector) {
        BitSet m = masked.get(index);
        return m != null && m.get(vector);
    }

    /**
     * The device raises an interrupt.
     *
     * @return whether a signal was delivered (false: disabled or masked)
     */
    public synchronized boolean fire(int index, int vector) {
        return fireLocked(index, vector);
    }

    private boolean fireLocked(int index, int vector) {
        IrqSignal[] s = signals.get(index);
        BitSet m = masked.get(index);
        if (s == null || s[vector] == null || (m != null && m.get(vector))) {
            return false;
        }
        IrqSignal signal = s[vector];
        if (capabilities.contains(BackendCapability.IRQ_SIGNAL_FD) && signal.fd() >= 0) {
            // As a kernel does: write the eventfd through our own reference to it.
            try (EventFd own = EventFd.adopt(Fd.adopt(signal.fd(), "core eventfd").dup())) {
                own.signal();
            } catch (ErrnoException e) {
                throw new IllegalStateException("cannot write the core's eventfd " + signal.fd() + ": " + e.getMessage(), e);
            }
        } else {
            signal.signal();
        }
        return true;
    }

    @Override
    public void regionRead(int index, long offset, ByteBuffer dst) {
        check("regionRead");
        factory.regionReads.incrementAndGet();
        RegionInfo r = device.region(index);
        if (offset < 0 || offset + dst.remaining() > r.size()) {
            throw new IllegalArgumentException("read outside region " + index);
        }
        try {
            while (dst.hasRemaining()) {
                int n = device.memory(index).pread(dst, offset);
                if (n <= 0) {
                    throw new BackendException("REGION_READ", 5, "EIO", "short read");
                }
                offset += n;
            }
        } catch (ErrnoException e) {
            throw new BackendException("REGION_READ", e.errno(), e.errnoName(), e.getMessage());
        }
    }

    @Override
    public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
        check("regionWrite");
        factory.regionWrites.incrementAndGet();
        RegionInfo r = device.region(index);
        if (offset < 0 || offset + src.remaining() > r.size()) {
            throw new IllegalArgumentException("write outside region " + index);
        }
        try {
            while (src.hasRemaining()) {
                offset += device.memory(index).pwrite(src, offset);
            }
        } catch (ErrnoException e) {
            throw new BackendException("REGION_WRITE", e.errno(), e.errnoName(), e.getMessage());
        }
    }

    @Override
    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
        check("regionMap");
        if (!capabilities.contains(BackendCapability.REGION_MAP)) {
            throw new NotSupportedException("memory backend " + factory.id() + " was told not to map");
        }
        if (mapped.containsKey(region.index())) {
            factory.violations.add("region " + region.index() + " mapped twice without unmap");
        }
        List<MappedArea> result = new ArrayList<>();
        try {
            for (SparseArea a : areas) {
                MappedMemory m = MappedMemory.map(device.memory(region.index()), a.offset(), a.size(),
                        region.has(RegionInfo.FLAG_WRITE)); // as the Linux backend: read-only regions read-only
                result.add(new MappedArea(a.offset(), a.size(), m.address()));
            }
        } catch (ErrnoException e) {
            for (MappedArea a : result) {
                unmapQuietly(a);
            }
            throw new BackendException("REGION_MAP", e.errno(), e.errnoName(), e.getMessage());
        }
        factory.regionMaps.incrementAndGet();
        mapped.put(region.index(), List.copyOf(result));
        return result;
    }

    private static void unmapQuietly(MappedArea a) {
        try {
            MappedMemory.adopt(a.address(), a.size()).unmap();
        } catch (ErrnoException e) {
            // test helper: nothing to do
        }
    }

    @Override
    public void regionUnmap(int index, List<MappedArea> areas) {
        check("regionUnmap");
        factory.regionUnmaps.incrementAndGet();
        List<MappedArea> mine = mapped.remove(index);
        if (mine == null) {
            factory.violations.add("regionUnmap of region " + index + " that is not mapped");
            return;
        }
        if (!mine.equals(areas)) {
            factory.violations.add("regionUnmap of region " + index + " with areas " + areas + ", mapped " + mine);
        }
        if (factory.verifyRevocation) {
            for (MappedArea a : areas) {
                if (reachesDevice(index, a)) {
                    factory.violations.add("area " + a + " of region " + index + " still reaches the device at regionUnmap");
                }
            }
        }
        // Per the contract the backend does not unmap the addresses: the core revoked them.
    }

    /** Whether a store to the device's memory is visible through the area's address (not revoked). */
    private boolean reachesDevice(int index, MappedArea a) {
        try {
            long saved = device.peek(index, a.offset(), 8);
            device.poke(index, a.offset(), 8, MARKER);
            ByteBuffer view = MappedMemory.adopt(a.address(), a.size()).view().order(ByteOrder.LITTLE_ENDIAN);
            boolean reaches = view.getLong(0) == MARKER;
            device.poke(index, a.offset(), 8, saved);
            return reaches;
        } catch (ErrnoException e) {
            factory.violations.add("cannot check revocation: " + e.getMessage());
            return false;
        }
    }

    @Override
    public void reset() {
        check("reset");
    }

    @Override
    public synchronized long dmaMap(DmaMemory memory, long iova, boolean deviceReads, boolean deviceWrites) {
        check("dmaMap");
        if (!capabilities.contains(BackendCapability.DMA)) {
            throw new NotSupportedException("memory backend " + factory.id() + " was told not to do DMA");
        }
        long chosen = iova;
        if (capabilities.contains(BackendCapability.DMA_IOVA_CHOSEN_BY_BACKEND)) {
            chosen = nextIova;
            nextIova += memory.size();
        }
        for (DmaMapping m : dma.values()) {
            if (chosen < m.iova() + m.size() && m.iova() < chosen + memory.size()) {
                throw new BackendException("DMA_MAP", 17, "EEXIST", "IOVA range overlaps 0x" + Long.toHexString(m.iova()));
            }
        }
        Fd fd = null;
        MappedMemory deviceView = null;
        if (memory.fd() >= 0) {
            try {
                fd = Fd.adopt(memory.fd(), "core DMA memfd").dup();
                deviceView = MappedMemory.map(fd, memory.fdOffset(), memory.size(), true);
            } catch (ErrnoException e) {
                if (fd != null) {
                    fd.close();
                }
                throw new BackendException("DMA_MAP", e.errno(), e.errnoName(), e.getMessage());
            }
        } else if (capabilities.contains(BackendCapability.DMA_NEEDS_FD)) {
            throw new BackendException("DMA_MAP", 22, "EINVAL", "memory without fd");
        }
        dma.put(chosen, new DmaMapping(chosen, memory.size(), memory, fd, deviceView));
        return chosen;
    }

    @Override
    public synchronized void dmaUnmap(long iova, long size) {
        check("dmaUnmap");
        DmaMapping m = dma.remove(iova);
        if (m == null || m.size() != size) {
            factory.violations.add("dmaUnmap of 0x" + Long.toHexString(iova) + "+" + size + " that is not mapped");
            return;
        }
        release(m);
    }

    private static void release(DmaMapping m) {
        if (m.deviceView() != null) {
            try {
                m.deviceView().unmap();
            } catch (ErrnoException e) {
                // test helper
            }
        }
        if (m.fd() != null) {
            m.fd().close();
        }
    }

    /** The device writes DMA memory at {@code iova} (through its own mapping of the memfd). */
    public synchronized void dmaWrite(long iova, long value) {
        for (DmaMapping m : dma.values()) {
            if (iova >= m.iova() && iova + 8 <= m.iova() + m.size()) {
                m.deviceView().view().putLong((int) (iova - m.iova()), value);
                return;
            }
        }
        throw new IllegalArgumentException("IOVA 0x" + Long.toHexString(iova) + " is not mapped");
    }

    /** @return the IOVAs currently mapped */
    public synchronized Set<Long> dmaMappings() {
        return Set.copyOf(dma.keySet());
    }

    /** @return the first IOVA this instance hands out when it chooses them */
    public long iovaBase() {
        return iovaBase;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        factory.closes.incrementAndGet();
        if (!mapped.isEmpty()) {
            factory.violations.add("close with regions still mapped: " + mapped.keySet());
        }
        for (DmaMapping m : dma.values()) {
            release(m);
        }
        dma.clear();
        signals.clear();
    }
}
