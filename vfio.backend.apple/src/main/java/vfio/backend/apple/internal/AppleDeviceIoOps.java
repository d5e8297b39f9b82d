package vfio.backend.apple.internal;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
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
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DmaRegistration;

/**
 * The operations on one device served by the Apple dext, over the shared {@link DextSession} of its
 * host function. The VFIO view is synthesised: device info PCI|RESET with 9 regions and 5 IRQ
 * indexes; BAR regions from GetBARInfo (READ|WRITE, plus MMAP for a BAR the dext maps, one area
 * covering it, no sparse capability; I/O, empty and upper-half slots are never mappable); the config
 * region of 4096 bytes (READ|WRITE); ROM and VGA of size 0; INTx with 1 vector, MSI with the
 * SetupInterrupts count, MSI-X with the count of the device's own MSI-X capability (EVENTFD|NORESIZE),
 * ERR and REQ with none.
 *
 * <p><b>Threading:</b> as {@link DeviceIoOps} requires; no method holds a lock across a dext call
 * except the IRQ routing (which is only memory).
 */
final class AppleDeviceIoOps implements DeviceIoOps {
    private static final Logger LOG = System.getLogger(AppleDeviceIoOps.class.getName());
    private static final Set<BackendCapability> CAPABILITIES = Collections.unmodifiableSet(EnumSet.of(
            BackendCapability.REGION_MAP, BackendCapability.DMA, BackendCapability.DMA_IOVA_CHOSEN_BY_BACKEND));
    private static final DeviceInfo DEVICE_INFO =
            new DeviceInfo(DeviceInfo.FLAG_PCI | DeviceInfo.FLAG_RESET, Pci.NUM_REGIONS, Pci.NUM_IRQS);

    private final String name;
    private final DextSession session;
    private final DextSessions sessions;
    private final DextConnection dext;
    private final List<RegionInfo> regions;
    private final List<IrqInfo> irqs;
    private final IrqRouting routing;
    /** DMA registrations of this device, by the bus address the dext returned. Guarded by itself. */
    private final Map<Long, DmaEntry> dma = new HashMap<>();
    /** Areas handed to the core by regionMap and not yet given back by regionUnmap. Guarded by itself. */
    private final Map<Integer, List<MappedArea>> handedOut = new HashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    private record DmaEntry(long key, long size) {
    }

    /**
     * @param name     the device name, for messages
     * @param session  the session, with one reference taken for these operations ({@link #close()}
     *                 releases it)
     * @param sessions where to release it
     */
    AppleDeviceIoOps(String name, DextSession session, DextSessions sessions) {
        this.name = name;
        this.session = session;
        this.sessions = sessions;
        this.dext = session.dext();
        List<RegionInfo> r = new ArrayList<>();
        for (int i = Pci.REGION_BAR0; i <= Pci.REGION_BAR5; i++) {
            r.add(session.bar(i).regionInfo());
        }
        r.add(new RegionInfo(Pci.REGION_ROM, 0, 0, 0));
        r.add(new RegionInfo(Pci.REGION_CONFIG, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE, ConfigSpace.SIZE, 0));
        r.add(new RegionInfo(Pci.REGION_VGA, 0, 0, 0));
        this.regions = List.copyOf(r);
        this.irqs = List.of(
                new IrqInfo(Pci.IRQ_INTX, IrqInfo.FLAG_EVENTFD, 1),
                new IrqInfo(Pci.IRQ_MSI, IrqInfo.FLAG_EVENTFD, session.msiVectors()),
                new IrqInfo(Pci.IRQ_MSIX, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_NORESIZE, session.msixVectors()),
                new IrqInfo(Pci.IRQ_ERR, 0, 0),
                new IrqInfo(Pci.IRQ_REQ, 0, 0));
        this.routing = new IrqRouting(session.msiVectors(), session.msixVectors());
        session.addRouting(routing);
    }

    @Override
    public DeviceInfo deviceInfo() {
        return DEVICE_INFO;
    }

    @Override
    public Set<BackendCapability> capabilities() {
        return CAPABILITIES;
    }

    @Override
    public byte[] deviceFeature(int flags, byte[] payload) {
        throw new NotSupportedException(name + ": device feature " + (flags & FEATURE_MASK)
                + " is not supported: the Apple dext has no VFIO_DEVICE_FEATURE (ENOTTY)");
    }

    @Override
    public RegionInfo regionInfo(int index) {
        if (index < 0 || index >= regions.size()) {
            throw new OutOfRangeException(name + ": region " + index + " does not exist (the device has " + regions.size() + ")");
        }
        return regions.get(index);
    }

    @Override
    public IrqInfo irqInfo(int index) {
        if (index < 0 || index >= irqs.size()) {
            throw new OutOfRangeException(name + ": IRQ index " + index + " does not exist (the device has " + irqs.size() + ")");
        }
        return irqs.get(index);
    }

    @Override
    public void setIrqs(IrqSet set) {
        ensureOpen();
        IrqSignal[][] before = routing.snapshot();
        routing.apply(set);
        try {
            session.updateMask();
        } catch (DextException e) {
            routing.restore(before);
            try {
                session.updateMask();
            } catch (DextException again) {
                e.addSuppressed(again);
            }
            throw DextCalls.translate(name, e);
        }
    }

    @Override
    public void regionRead(int index, long offset, ByteBuffer dst) {
        ensureOpen();
        if (index == Pci.REGION_CONFIG) {
            DextCalls.run(name, () -> ConfigSpace.read(dext, offset, dst));
        } else {
            BarWindow w = window(index);
            DextCalls.run(name, () -> w.read(offset, dst));
        }
    }

    @Override
    public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
        ensureOpen();
        // No POSTED_WRITES: every write completes before returning.
        if (index == Pci.REGION_CONFIG) {
            DextCalls.run(name, () -> ConfigSpace.write(dext, offset, src));
        } else {
            BarWindow w = window(index);
            DextCalls.run(name, () -> w.write(offset, src));
        }
    }

    /** After close the session (and its BAR mappings) may be gone: refuse instead of touching them. */
    private void ensureOpen() {
        if (closed.get()) {
            throw new DeviceUnavailableException(name + ": the Apple backend's device was closed");
        }
    }

    private BarWindow window(int index) {
        if (index < Pci.REGION_BAR0 || index > Pci.REGION_BAR5 || session.bar(index).window() == null) {
            throw new OutOfRangeException(name + ": region " + Pci.regionName(index) + " has no accessible bytes");
        }
        return session.bar(index).window();
    }

    /**
     * Maps areas of a BAR: each area is a second mapping of the session's own BAR mapping ({@link
     * DextConnection#mapAlias}), handed over to the core. Areas that do not start on a page boundary
     * or reach past the mapping are left out (the core reaches them by read and write).
     */
    @Override
    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
        ensureOpen();
        int index = region.index();
        if (index < Pci.REGION_BAR0 || index > Pci.REGION_BAR5 || session.bar(index).mapping() == null) {
            return List.of();
        }
        Bar bar = session.bar(index);
        long page = dext.pageSize();
        long limit = Math.min(bar.mapping().size(), bar.size());
        List<MappedArea> mapped = new ArrayList<>();
        try {
            for (SparseArea a : areas) {
                if (a.size() <= 0 || a.offset() % page != 0 || a.end() > limit) {
                    continue;
                }
                long address = dext.mapAlias(bar.mapping(), a.offset(), a.size());
                mapped.add(new MappedArea(a.offset(), a.size(), address));
            }
        } catch (DextException | RuntimeException e) {
            for (MappedArea m : mapped) {
                try {
                    dext.unmapAlias(m.address(), m.size()); // never handed over: ours to undo
                } catch (DextException undo) {
                    e.addSuppressed(undo);
                }
            }
            throw e instanceof DextException d ? DextCalls.translate(name, d) : (RuntimeException) e;
        }
        if (!mapped.isEmpty()) {
            synchronized (handedOut) {
                handedOut.computeIfAbsent(index, k -> new ArrayList<>()).addAll(mapped);
            }
        }
        return mapped;
    }

    /**
     * Releases the bookkeeping of mapped areas and nothing else. The core has already replaced the
     * pages of these ranges with its own anonymous memory and will unmap the ranges itself, so they
     * must not be unmapped here. They are aliases ({@link DextConnection#mapAlias}) that hold no
     * dext or kernel object: the BAR mapping the dext made ({@code IOConnectMapMemory64}) is the
     * session's and is released with {@code IOConnectUnmapMemory64} when the session closes. That
     * split is deliberate: on macOS {@code IOConnectUnmapMemory64} (and closing the connection)
     * deallocates the address range of the mapping it made, whatever now occupies it, so calling it
     * on a range the core had revoked would free the core's replacement pages under it.
     */
    @Override
    public void regionUnmap(int index, List<MappedArea> areas) {
        synchronized (handedOut) {
            List<MappedArea> out = handedOut.get(index);
            if (out != null) {
                out.removeAll(areas);
                if (out.isEmpty()) {
                    handedOut.remove(index);
                }
            }
        }
    }

    @Override
    public void reset() {
        ensureOpen();
        DextCalls.run(name, dext::resetDevice);
    }

    @Override
    public long dmaMap(DmaMemory memory, long iova, boolean deviceReads, boolean deviceWrites) {
        ensureOpen();
        // The dext maps every region read-write; it has no per-direction permission.
        long size = memory.size();
        long key = session.reserveDmaKey(iova);
        DmaRegistration reg;
        try {
            reg = dext.registerDmaRegion(key, memory.address(), size);
        } catch (DextException e) {
            session.releaseDmaKey(key);
            throw DextCalls.translate(name, e);
        }
        if (reg.segments() != 1 || reg.busLength() < size) {
            try {
                dext.unregisterDmaRegion(key);
            } catch (DextException e) {
                LOG.log(Level.WARNING, name + ": undoing a fragmented DMA registration failed: " + e.getMessage());
            }
            session.releaseDmaKey(key);
            throw new BackendException("RegisterDMARegion", 0, null, name + ": the dext mapped " + size
                    + " bytes as " + reg.segments() + " bus segments (the first of " + reg.busLength()
                    + " bytes); the device needs one contiguous bus range: map smaller buffers");
        }
        synchronized (dma) {
            dma.put(reg.busAddress(), new DmaEntry(key, size));
        }
        return reg.busAddress();
    }

    @Override
    public void dmaUnmap(long iova, long size) {
        ensureOpen();
        DmaEntry e;
        synchronized (dma) {
            e = dma.get(iova);
        }
        if (e == null) {
            throw new IllegalArgumentException(name + ": no DMA mapping at IOVA 0x" + Long.toHexString(iova));
        }
        if (e.size() != size) {
            throw new IllegalArgumentException(name + ": the DMA mapping at IOVA 0x" + Long.toHexString(iova) + " has "
                    + e.size() + " bytes, not " + size + "; the dext unregisters whole regions only");
        }
        DextCalls.run(name, () -> dext.unregisterDmaRegion(e.key()));
        synchronized (dma) {
            dma.remove(iova);
        }
        session.releaseDmaKey(e.key());
    }

    /** @return the session (for tests) */
    DextSession session() {
        return session;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        routing.clear();
        session.removeRouting(routing);
        try {
            session.updateMask();
        } catch (DextException e) {
            LOG.log(Level.DEBUG, () -> name + ": disabling vectors at close failed: " + e.getMessage());
        }
        List<DmaEntry> left;
        synchronized (dma) {
            left = new ArrayList<>(dma.values());
            dma.clear();
        }
        for (DmaEntry e : left) {
            try {
                dext.unregisterDmaRegion(e.key());
            } catch (DextException ex) {
                LOG.log(Level.WARNING, name + ": unregistering DMA region at close failed: " + ex.getMessage());
            }
            session.releaseDmaKey(e.key());
        }
        synchronized (handedOut) {
            if (!handedOut.isEmpty()) {
                LOG.log(Level.WARNING, name + ": closed while regions " + handedOut.keySet()
                        + " were still mapped (regionUnmap missing); their ranges belong to the caller, who must unmap them");
            }
        }
        sessions.release(session);
    }
}
