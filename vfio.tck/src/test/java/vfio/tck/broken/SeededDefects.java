package vfio.tck.broken;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.DmaMemory;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.backend.MappedArea;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceUnavailableException;
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
 * Deliberately broken backends: the conforming memory backend plus exactly
 * one seeded defect each, the kind of mistake a backend author makes. Each names the check that
 * should catch it.
 */
public final class SeededDefects {
    private SeededDefects() {
    }

    /**
     * One broken backend.
     *
     * @param name        a short name
     * @param defect      what is wrong, in a sentence
     * @param expectedBy  the id of the check whose clause the defect violates
     * @param make        builds the broken factory from the conforming one
     */
    public record Defect(String name, String defect, String expectedBy, UnaryOperator<BackendFactory> make) {
        public BackendFactory on(BackendFactory conforming) {
            return make.apply(conforming);
        }
    }

    /** @return the conforming baseline: the memory backend as shipped */
    public static BackendFactory conforming(BackendFactory memory) {
        return memory;
    }

    private static Defect ops(String name, String defect, String expectedBy, UnaryOperator<DeviceIoOps> wrap) {
        return new Defect(name, defect, expectedBy, f -> new WrappedBackend("broken." + name, f, wrap));
    }

    private static int count(DeviceIoOps ops, int index) {
        return ops.irqInfo(index).count();
    }

    private static boolean softwareTrigger(IrqSet set) {
        return set.action() == IrqSet.Action.TRIGGER && set.data() instanceof IrqSet.Data.None && set.count() > 0;
    }

    private static Fd devNull() {
        try {
            return Fd.open("/dev/null", Fd.O_RDONLY);
        } catch (ErrnoException e) {
            throw new BackendException("open", e.errno(), e.errnoName(), "/dev/null");
        }
    }

    /** @return every seeded defect */
    public static List<Defect> all() {
        List<Defect> d = new ArrayList<>();

        // ---- bounds and info
        d.add(ops("region-index-past-count", "regionInfo(numRegions) answers an empty region instead of refusing",
                "bounds.region-index", o -> new ForwardingOps(o) {
                    @Override
                    public RegionInfo regionInfo(int index) {
                        return index == deviceInfo().numRegions() ? new RegionInfo(index, 0, 0, 0) : super.regionInfo(index);
                    }
                }));
        d.add(ops("off-by-one-at-region-end", "an access ending exactly at the region's end is refused (>= for >)",
                "region.access-at-end", o -> new ForwardingOps(o) {
                    private void check(int index, long offset, int length) {
                        if (offset + length >= regionInfo(index).size()) {
                            throw new OutOfRangeException(length + " bytes at " + offset + " past region " + index);
                        }
                    }

                    @Override
                    public void regionRead(int index, long offset, ByteBuffer dst) {
                        check(index, offset, dst.remaining());
                        super.regionRead(index, offset, dst);
                    }

                    @Override
                    public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
                        check(index, offset, src.remaining());
                        super.regionWrite(index, offset, src, posted);
                    }
                }));
        d.add(ops("irq-vector-past-count-accepted", "setIrqs accepts vector == count (an off-by-one bounds check)",
                "bounds.irq-vector", o -> new ForwardingOps(o) {
                    @Override
                    public void setIrqs(IrqSet set) {
                        int c = count(this, set.index());
                        if (c > 0 && set.start() + set.count() == c + 1) {
                            return; // "fine": the last slot of a table one too long
                        }
                        super.setIrqs(set);
                    }
                }));
        d.add(ops("irq-last-vector-refused", "irqInfo says MSI has 4 vectors, setIrqs accepts only 3",
                "irq.trigger-fires", o -> new ForwardingOps(o) {
                    @Override
                    public void setIrqs(IrqSet set) {
                        if (set.index() == Pci.IRQ_MSI && set.start() + set.count() > count(this, Pci.IRQ_MSI) - 1) {
                            throw new BackendException("SET_IRQS", 22, "EINVAL", "MSI has 3 vectors");
                        }
                        super.setIrqs(set);
                    }
                }));
        d.add(ops("region-index-echo-off-by-one", "regionInfo(i) reports index i-1 (a table indexed from 1)",
                "info.region-index-echoed", o -> new ForwardingOps(o) {
                    @Override
                    public RegionInfo regionInfo(int index) {
                        RegionInfo r = super.regionInfo(index);
                        return index == 0 ? r : new RegionInfo(index - 1, r.flags(), r.size(), r.offset(), r.capabilities());
                    }
                }));
        d.add(ops("sparse-area-outside-region", "BAR0's second sparse area reaches 4 KiB past the region's end",
                "info.sparse-areas-valid", o -> new ForwardingOps(o) {
                    @Override
                    public RegionInfo regionInfo(int index) {
                        RegionInfo r = super.regionInfo(index);
                        if (index != 0) {
                            return r;
                        }
                        return new RegionInfo(0, r.flags(), r.size(), r.offset(), List.of(new RegionCapability.SparseMmap(
                                List.of(new SparseArea(0, 0x4000), new SparseArea(0x8000, r.size() - 0x8000 + 0x1000)))));
                    }
                }));

        // ---- region I/O
        d.add(ops("big-endian-reads", "reads of 2, 4 and 8 bytes return the value big-endian",
                "region.width-roundtrip", o -> new ForwardingOps(o) {
                    @Override
                    public void regionRead(int index, long offset, ByteBuffer dst) {
                        int n = dst.remaining();
                        if (n != 2 && n != 4 && n != 8) {
                            super.regionRead(index, offset, dst);
                            return;
                        }
                        byte[] b = new byte[n];
                        super.regionRead(index, offset, ByteBuffer.wrap(b));
                        for (int i = n - 1; i >= 0; i--) {
                            dst.put(b[i]);
                        }
                    }
                }));
        d.add(ops("ignores-buffer-position", "regionRead puts the data at index 0 of dst instead of its position",
                "region.buffer-contract", o -> new ForwardingOps(o) {
                    @Override
                    public void regionRead(int index, long offset, ByteBuffer dst) {
                        byte[] b = new byte[dst.remaining()];
                        super.regionRead(index, offset, ByteBuffer.wrap(b));
                        dst.put(0, b);
                        dst.position(dst.limit());
                    }
                }));
        d.add(ops("posted-writes-not-flushed", "claims POSTED_WRITES and queues posted writes until the next"
                + " non-posted write, so a read does not see them", "posted.visible-to-read", o -> new PostedQueue(o, false)));
        d.add(ops("posted-writes-reordered", "claims POSTED_WRITES and flushes queued posted writes before a read,"
                + " but newest first", "posted.in-order", o -> new PostedQueue(o, true)));
        d.add(ops("shared-read-buffer", "regionRead goes through one buffer shared by all threads",
                "concurrency.disjoint-io", o -> new ForwardingOps(o) {
                    private final ByteBuffer shared = ByteBuffer.allocateDirect(64 * 1024);

                    @Override
                    public void regionRead(int index, long offset, ByteBuffer dst) {
                        shared.clear().limit(dst.remaining());
                        super.regionRead(index, offset, shared);
                        Thread.yield(); // a preemption here is all it takes
                        shared.flip();
                        dst.put(shared);
                    }
                }));

        // ---- region mapping
        d.add(ops("unmap-munmaps", "regionUnmap munmaps the ranges the core revoked and owns",
                "map.unmap-keeps-revoked-range", o -> new ForwardingOps(o) {
                    @Override
                    public void regionUnmap(int index, List<MappedArea> areas) {
                        super.regionUnmap(index, areas);
                        for (MappedArea a : areas) {
                            try {
                                MappedMemory.adopt(a.address(), a.size()).unmap();
                            } catch (ErrnoException e) {
                                throw new BackendException("munmap", e.errno(), e.errnoName(), "unmap");
                            }
                        }
                    }
                }));
        d.add(ops("unmap-leaks-descriptor", "regionMap keeps a descriptor per area that regionUnmap forgets to close",
                "map.unmap-releases", o -> new ForwardingOps(o) {
                    private final Map<Long, Fd> held = new ConcurrentHashMap<>();

                    @Override
                    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
                        List<MappedArea> mapped = super.regionMap(region, areas);
                        mapped.forEach(a -> held.put(a.address(), devNull()));
                        return mapped;
                    }

                    @Override
                    public void regionUnmap(int index, List<MappedArea> areas) {
                        areas.forEach(a -> held.remove(a.address())); // forgotten, not closed
                        super.regionUnmap(index, areas);
                    }

                    @Override
                    public void close() {
                        held.values().forEach(Fd::close);
                        super.close();
                    }
                }));
        d.add(ops("map-ignores-requested-areas", "regionMap maps every sparse area of the region, not the ones asked for",
                "map.areas-as-requested", o -> new ForwardingOps(o) {
                    @Override
                    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
                        return super.regionMap(region, region.sparseAreas().orElse(areas));
                    }
                }));
        d.add(ops("mmap-flag-but-nothing-mapped", "BAR0 is flagged MMAP but regionMap maps nothing",
                "map.mmap-flag-maps", o -> new ForwardingOps(o) {
                    @Override
                    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
                        return List.of();
                    }
                }));
        d.add(ops("mapping-is-a-private-copy", "regionMap returns private anonymous copies of the areas",
                "map.areas-as-requested", o -> new ForwardingOps(o) {
                    @Override
                    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
                        List<MappedArea> out = new ArrayList<>();
                        for (SparseArea a : areas) {
                            try {
                                MappedMemory copy = MappedMemory.anonymous(a.size());
                                super.regionRead(region.index(), a.offset(), copy.view());
                                out.add(new MappedArea(a.offset(), a.size(), copy.address()));
                            } catch (ErrnoException e) {
                                throw new BackendException("mmap", e.errno(), e.errnoName(), "copy");
                            }
                        }
                        return out;
                    }

                    @Override
                    public void regionUnmap(int index, List<MappedArea> areas) {
                        // the copies stay: as leaky as it is wrong
                    }
                }));

        // ---- interrupts
        d.add(ops("trigger-does-not-fire", "a software trigger (TRIGGER with no data) is ignored",
                "irq.trigger-fires", o -> new ForwardingOps(o) {
                    @Override
                    public void setIrqs(IrqSet set) {
                        if (!softwareTrigger(set)) {
                            super.setIrqs(set);
                        }
                    }
                }));
        d.add(ops("mask-ignored", "MASK is accepted and does nothing", "irq.mask-holds", o -> new ForwardingOps(o) {
            @Override
            public void setIrqs(IrqSet set) {
                if (set.action() != IrqSet.Action.MASK) {
                    super.setIrqs(set);
                }
            }
        }));
        d.add(ops("unmask-ignored", "UNMASK is accepted and does nothing: a masked vector stays masked",
                "irq.unmask-releases", o -> new ForwardingOps(o) {
                    @Override
                    public void setIrqs(IrqSet set) {
                        if (set.action() != IrqSet.Action.UNMASK) {
                            super.setIrqs(set);
                        }
                    }
                }));
        d.add(ops("disable-ignored", "TRIGGER with no data and count 0 (disable) keeps the signals",
                "irq.disable-stops", o -> new ForwardingOps(o) {
                    @Override
                    public void setIrqs(IrqSet set) {
                        if (!(set.action() == IrqSet.Action.TRIGGER && set.data() instanceof IrqSet.Data.None
                                && set.count() == 0)) {
                            super.setIrqs(set);
                        }
                    }
                }));
        d.add(ops("reenable-keeps-first-signals", "an enable after the first routes the vectors to the first"
                + " enable's signals (cached by index)", "irq.reenable-routes-new", o -> new ForwardingOps(o) {
                    private final Map<Integer, List<IrqSignal>> first = new HashMap<>();

                    @Override
                    public synchronized void setIrqs(IrqSet set) {
                        if (set.data() instanceof IrqSet.Data.Signals s) {
                            List<IrqSignal> cached = first.computeIfAbsent(set.index(), i -> s.signals());
                            if (cached.size() == s.signals().size()) {
                                set = new IrqSet(set.index(), set.action(), set.start(), set.count(),
                                        new IrqSet.Data.Signals(cached));
                            }
                        }
                        super.setIrqs(set);
                    }
                }));
        d.add(ops("trigger-waits-forever", "a software trigger of the last MSI vector waits for a reply that never"
                + " comes, without a timeout", "irq.trigger-fires", o -> new ForwardingOps(o) {
                    @Override
                    public void setIrqs(IrqSet set) {
                        if (softwareTrigger(set) && set.index() == Pci.IRQ_MSI
                                && set.start() + set.count() == count(this, Pci.IRQ_MSI)) {
                            try {
                                Thread.sleep(600_000);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                                throw new DeviceUnavailableException("interrupted while waiting for the reply");
                            }
                        }
                        super.setIrqs(set);
                    }
                }));

        // ---- DMA
        d.add(ops("dma-overlap-accepted", "dmaMap accepts a range overlapping an existing mapping",
                "dma.overlap-rejected", o -> new ForwardingOps(o) {
                    private final Set<Long> pretended = ConcurrentHashMap.newKeySet();

                    @Override
                    public long dmaMap(DmaMemory memory, long iova, boolean reads, boolean writes) {
                        try {
                            return super.dmaMap(memory, iova, reads, writes);
                        } catch (BackendException e) {
                            pretended.add(iova);
                            return iova; // "it's probably fine"
                        }
                    }

                    @Override
                    public void dmaUnmap(long iova, long size) {
                        if (!pretended.remove(iova)) {
                            super.dmaUnmap(iova, size);
                        }
                    }
                }));
        d.add(ops("dma-unmap-unknown-succeeds", "dmaUnmap of a range that is not mapped silently succeeds",
                "dma.unmap-unknown-rejected", o -> new ForwardingOps(o) {
                    @Override
                    public void dmaUnmap(long iova, long size) {
                        try {
                            super.dmaUnmap(iova, size);
                        } catch (BackendException e) {
                            // "already gone, nothing to do"
                        }
                    }
                }));
        d.add(ops("dma-iova-moved-without-capability", "dmaMap places the mapping 16 MiB higher without"
                + " DMA_IOVA_CHOSEN_BY_BACKEND", "dma.map-iova", o -> new ForwardingOps(o) {
                    @Override
                    public long dmaMap(DmaMemory memory, long iova, boolean reads, boolean writes) {
                        return super.dmaMap(memory, iova + 0x100_0000, reads, writes);
                    }
                }));
        d.add(new Defect("dma-mappings-survive-close", "the backend keeps each device's IOVA table in a shared map"
                + " that close does not clear", "close.drops-dma", f -> new WrappedBackend("broken.dma-survives", f,
                        new UnaryOperator<>() {
                            private final Map<String, TreeMap<Long, Long>> tables = new ConcurrentHashMap<>();

                            @Override
                            public DeviceIoOps apply(DeviceIoOps o) {
                                TreeMap<Long, Long> table = tables.computeIfAbsent("device", k -> new TreeMap<>());
                                return new ForwardingOps(o) {
                                    @Override
                                    public long dmaMap(DmaMemory memory, long iova, boolean reads, boolean writes) {
                                        synchronized (table) {
                                            Map.Entry<Long, Long> below = table.floorEntry(iova + memory.size() - 1);
                                            if (below != null && below.getKey() + below.getValue() > iova) {
                                                throw new BackendException("DMA_MAP", 17, "EEXIST", "overlaps a mapping");
                                            }
                                            long got = super.dmaMap(memory, iova, reads, writes);
                                            table.put(got, memory.size());
                                            return got;
                                        }
                                    }

                                    @Override
                                    public void dmaUnmap(long iova, long size) {
                                        synchronized (table) {
                                            super.dmaUnmap(iova, size);
                                            table.remove(iova);
                                        }
                                    }
                                };
                            }
                        })));

        // ---- device level
        d.add(ops("reset-claimed-but-throws", "DeviceInfo has FLAG_RESET but reset throws NotSupportedException",
                "reset.matches-flag", o -> new ForwardingOps(o) {
                    @Override
                    public void reset() {
                        throw new NotSupportedException("reset is not implemented yet");
                    }
                }));
        d.add(ops("feature-silently-accepted", "deviceFeature returns an empty answer for any feature",
                "feature.unsupported-rejected", o -> new ForwardingOps(o) {
                    @Override
                    public byte[] deviceFeature(int flags, byte[] payload) {
                        return new byte[0];
                    }
                }));

        // ---- open and close
        d.add(ops("close-leaks-descriptor", "open keeps a descriptor that close never closes",
                "close.releases-descriptors", o -> new ForwardingOps(o) {
                    private final Fd forgotten = devNull();
                }));
        d.add(ops("close-throws-when-closed-twice", "a second close throws IllegalStateException",
                "close.idempotent", o -> new ForwardingOps(o) {
                    private boolean closed;

                    @Override
                    public synchronized void close() {
                        if (closed) {
                            throw new IllegalStateException("already closed");
                        }
                        closed = true;
                        super.close();
                    }
                }));
        d.add(ops("read-after-close-returns-zeros", "after close, regionRead fills the buffer with zeros",
                "close.no-io-after-close", o -> new ForwardingOps(o) {
                    private volatile boolean closed;

                    @Override
                    public void regionRead(int index, long offset, ByteBuffer dst) {
                        if (closed) {
                            dst.put(new byte[dst.remaining()]);
                            return;
                        }
                        super.regionRead(index, offset, dst);
                    }

                    @Override
                    public void close() {
                        closed = true;
                        super.close();
                    }
                }));
        d.add(new Defect("match-throws-on-foreign-address", "match throws for an address of another scheme",
                "match.foreign-addresses", f -> new WrappedBackend("broken.match-throws", f, UnaryOperator.identity()) {
                    @Override
                    public Match match(String address) {
                        if (!address.startsWith("memory:")) {
                            throw new IllegalArgumentException("not a memory address: " + address);
                        }
                        return super.match(address);
                    }
                }));
        d.add(new Defect("unknown-option-accepted", "open ignores the options instead of rejecting unknown ones",
                "open.rejects-unknown-options", f -> new WrappedBackend("broken.options", f, UnaryOperator.identity()) {
                    @Override
                    public DeviceIoOps open(OpenRequest r) {
                        return delegate.open(new OpenRequest(r.name(), r.address(), r.timeout(), Map.of()));
                    }
                }));
        return d;
    }

    /**
     * Posted writes kept in a queue, flushed before the next non-posted write; with {@code
     * flushOnRead} also before a read, but newest first (the order a stack gives).
     */
    private static final class PostedQueue extends ForwardingOps {
        private record Write(int index, long offset, byte[] data) {
        }

        private final boolean flushOnRead;
        private final List<Write> queue = new ArrayList<>();

        PostedQueue(DeviceIoOps delegate, boolean flushOnRead) {
            super(delegate);
            this.flushOnRead = flushOnRead;
        }

        @Override
        public Set<BackendCapability> capabilities() {
            Set<BackendCapability> c = java.util.EnumSet.copyOf(super.capabilities());
            c.add(BackendCapability.POSTED_WRITES);
            return c;
        }

        private synchronized void flush() {
            for (int k = 0; k < queue.size(); k++) {
                Write w = queue.get(flushOnRead ? queue.size() - 1 - k : k);
                super.regionWrite(w.index(), w.offset(), ByteBuffer.wrap(w.data()), false);
            }
            queue.clear();
        }

        @Override
        public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
            if (posted) {
                byte[] b = new byte[src.remaining()];
                src.get(b);
                synchronized (this) {
                    queue.add(new Write(index, offset, b));
                }
                return;
            }
            flush();
            super.regionWrite(index, offset, src, false);
        }

        @Override
        public void regionRead(int index, long offset, ByteBuffer dst) {
            if (flushOnRead) {
                flush();
            }
            super.regionRead(index, offset, dst);
        }

        @Override
        public void close() {
            flush();
            super.close();
        }
    }
}
