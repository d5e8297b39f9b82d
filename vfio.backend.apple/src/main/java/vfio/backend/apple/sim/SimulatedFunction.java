package vfio.backend.apple.sim;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import vfio.backend.apple.dext.BarInfo;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextIdentity;
import vfio.backend.apple.dext.DmaRegistration;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFd;

/**
 * One simulated PCI function and the dext instance that serves it: config space, BAR memory (memfds),
 * the 256-bit pending bitmap and enable mask, claim count, DMA registrations and the device model.
 * Tests inspect it through the public methods.
 *
 * <p><b>Threading:</b> all state is guarded by this object's monitor (also the device model's {@link
 * #lock()}); the public methods are thread-safe.
 */
public final class SimulatedFunction implements DeviceContext {
    /**
     * Lowest bus address RegisterDMARegion hands out. The dext's bus addresses come from its own
     * first-fit allocator above 64 MiB (never equal to the registration's key), and stay below 2^28
     * until 192 MiB are registered, so drivers with a 28-bit DMA mask (edu) work.
     */
    public static final long DMA_BUS_BASE = 0x0400_0000L;
    /** Registered-memory limit the series states for the platform (about 1.5 GB). */
    public static final long DMA_BYTES_LIMIT = 1536L << 20;
    /** Registration-count limit the series states (about 64k). */
    public static final int DMA_REGIONS_LIMIT = 65536;

    static final int COMMAND = 0x04;
    static final int COMMAND_MEMORY = 0x02;
    static final int COMMAND_BUS_MASTER = 0x04;

    private final SimulatedDext dext;
    private final FunctionSpec spec;
    private final byte[] config = new byte[4096];
    private final Fd[] barFds = new Fd[6];
    private final MappedMemory[] barMemory = new MappedMemory[6];
    private final long[] pending = new long[4];
    private final long[] mask = new long[4];
    private final Map<Long, DmaRegion> dmaByKey = new HashMap<>();
    private final TreeMap<Long, DmaRegion> dmaByBus = new TreeMap<>();
    private final Set<SimulatedConnection> connections = new LinkedHashSet<>();
    private final DeviceModel model;
    private long dmaBytes;
    private int claims;
    private int vectors = -1;
    private int droppedRaises;
    private int lostWakeups;
    private int aliasesMade;
    private int aliasesUnmapped;
    private boolean closed;

    private record DmaRegion(long key, long clientAddress, long size, long bus) {
    }

    SimulatedFunction(SimulatedDext dext, FunctionSpec spec) throws ErrnoException {
        this.dext = dext;
        this.spec = spec;
        try {
            for (int i = 0; i < 6; i++) {
                SimulatedBar bar = spec.bars().get(i);
                if (bar.present()) {
                    long bytes = MappedMemory.roundUpToPage(bar.size());
                    barFds[i] = MemFd.create("sim-dext-" + spec.bdf() + "-bar" + i, bytes);
                    barMemory[i] = MappedMemory.map(barFds[i], 0, bytes, true);
                }
            }
        } catch (ErrnoException | RuntimeException e) {
            releaseMemory();
            throw e;
        }
        buildConfigSpace();
        this.model = spec.model() != null ? spec.model().get() : null;
        if (model != null) {
            synchronized (this) {
                model.attach(this);
            }
        }
    }

    // ---- config space layout -------------------------------------------------------------------

    private void buildConfigSpace() {
        put(0x00, 2, spec.vendorId());
        put(0x02, 2, spec.deviceId());
        put(0x06, 2, 0x0010); // capability list
        put(0x08, 1, 0x10); // revision
        put(0x09, 3, spec.classCode());
        put(0x0e, 1, 0x00); // header type 0
        long nextBase32 = 0xc000_0000L;
        long nextBase64 = 0x40_0000_0000L;
        for (int i = 0; i < 6; i++) {
            SimulatedBar bar = spec.bars().get(i);
            int reg = 0x10 + 4 * i;
            switch (bar.kind()) {
                case NONE -> {
                    // the upper half of a 64-bit BAR is written by its lower half
                }
                case IO -> put(reg, 4, 0xc000 + 0x100 * i | 0x1);
                case MEMORY32 -> {
                    put(reg, 4, nextBase32 | (bar.prefetchable() ? 0x8 : 0));
                    nextBase32 += Math.max(bar.size(), 0x1000);
                }
                case MEMORY64 -> {
                    put(reg, 4, (nextBase64 & 0xffff_ffffL) | 0x4 | (bar.prefetchable() ? 0x8 : 0));
                    put(reg + 4, 4, nextBase64 >>> 32);
                    nextBase64 += Math.max(bar.size(), 0x1000);
                }
                default -> throw new IllegalStateException();
            }
        }
        put(0x2c, 2, 0x1af4); // subsystem vendor
        put(0x2e, 2, 0x1100); // subsystem id
        put(0x34, 1, 0x40); // capabilities pointer
        put(0x3d, 1, 0x01); // interrupt pin A
        // Capability list: power management -> MSI -> MSI-X, so finding MSI-X needs a real walk.
        int msi = 0x50;
        int msix = 0x70;
        put(0x40, 1, 0x01);
        put(0x41, 1, spec.msiVectors() > 0 ? msi : spec.msixVectors() > 0 ? msix : 0);
        put(0x42, 2, 0x0003); // PM capabilities: version 3
        if (spec.msiVectors() > 0) {
            put(msi, 1, 0x05);
            put(msi + 1, 1, spec.msixVectors() > 0 ? msix : 0);
            put(msi + 2, 2, (Integer.numberOfTrailingZeros(spec.msiVectors()) << 1) | 0x80); // 64-bit capable
        }
        if (spec.msixVectors() > 0) {
            put(msix, 1, 0x11);
            put(msix + 1, 1, 0);
            put(msix + 2, 2, spec.msixVectors() - 1);
            int tableBar = firstMemoryBar();
            put(msix + 4, 4, 0x0000 | tableBar); // table at offset 0 of the first memory BAR
            put(msix + 8, 4, 0x8000 | tableBar); // PBA at 32 KiB
        }
    }

    private int firstMemoryBar() {
        for (int i = 0; i < 6; i++) {
            SimulatedBar.Kind k = spec.bars().get(i).kind();
            if (k == SimulatedBar.Kind.MEMORY32 || k == SimulatedBar.Kind.MEMORY64) {
                return i;
            }
        }
        return 0;
    }

    private void put(int offset, int width, long value) {
        for (int i = 0; i < width; i++) {
            config[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    private long get(int offset, int width) {
        long v = 0;
        for (int i = 0; i < width; i++) {
            v |= (config[offset + i] & 0xffL) << (8 * i);
        }
        return v;
    }

    // ---- selectors (called by SimulatedConnection, which checked faults and logged) ------------

    synchronized DextIdentity identity() {
        return spec.reportIds()
                ? new DextIdentity(spec.bdf(), spec.vendorId(), spec.deviceId(), spec.classCode())
                : new DextIdentity(spec.bdf(), -1, -1, -1);
    }

    synchronized void claim() {
        if (++claims == 1) {
            put(COMMAND, 2, get(COMMAND, 2) | COMMAND_MEMORY | COMMAND_BUS_MASTER);
        }
    }

    synchronized void release() {
        if (claims > 0 && --claims == 0) {
            put(COMMAND, 2, get(COMMAND, 2) & ~(COMMAND_MEMORY | COMMAND_BUS_MASTER));
        }
    }

    synchronized long configRead(int offset, int width) throws DextException {
        checkConfigAccess(Selector.CONFIG_READ, offset, width);
        return get(offset, width);
    }

    synchronized void configWrite(int offset, int width, long value) throws DextException {
        checkConfigAccess(Selector.CONFIG_WRITE, offset, width);
        put(offset, width, value);
    }

    private static void checkConfigAccess(Selector s, int offset, int width) throws DextException {
        if ((width != 1 && width != 2 && width != 4) || offset < 0 || offset + width > 4096) {
            throw new DextException(s, KernReturn.BAD_ARGUMENT, "offset 0x" + Integer.toHexString(offset) + " width " + width);
        }
    }

    synchronized BarInfo barInfo(int bar) throws DextException {
        if (bar < 0 || bar > 5) {
            throw new DextException(Selector.GET_BAR_INFO, KernReturn.BAD_ARGUMENT, "BAR " + bar);
        }
        SimulatedBar b = spec.bars().get(bar);
        return switch (b.kind()) {
            case NONE -> new BarInfo(0xff, 0, 0);
            case IO -> new BarInfo(bar, b.size(), 0x01);
            case MEMORY32 -> new BarInfo(bar, b.size(), b.prefetchable() ? BarInfo.PREFETCHABLE : 0);
            case MEMORY64 -> new BarInfo(bar, b.size(), 0x04 | (b.prefetchable() ? BarInfo.PREFETCHABLE : 0));
        };
    }

    synchronized long mmioRead(int memoryIndex, long offset, int width) throws DextException {
        ByteBuffer bar = checkMmio(Selector.MMIO_READ, memoryIndex, offset, width);
        int at = (int) offset;
        return switch (width) {
            case 1 -> bar.get(at) & 0xffL;
            case 2 -> bar.getShort(at) & 0xffffL;
            case 4 -> bar.getInt(at) & 0xffff_ffffL;
            default -> bar.getLong(at);
        };
    }

    synchronized void mmioWrite(int memoryIndex, long offset, int width, long value) throws DextException {
        ByteBuffer bar = checkMmio(Selector.MMIO_WRITE, memoryIndex, offset, width);
        int at = (int) offset;
        switch (width) {
            case 1 -> bar.put(at, (byte) value);
            case 2 -> bar.putShort(at, (short) value);
            case 4 -> bar.putInt(at, (int) value);
            default -> bar.putLong(at, value);
        }
        if (model != null) {
            model.written(memoryIndex, offset, width, value);
        }
    }

    private ByteBuffer checkMmio(Selector s, int memoryIndex, long offset, int width) throws DextException {
        if (memoryIndex < 0 || memoryIndex > 5 || !spec.bars().get(memoryIndex).present()) {
            throw new DextException(s, KernReturn.BAD_ARGUMENT, "memory index " + memoryIndex);
        }
        long size = spec.bars().get(memoryIndex).size();
        if ((width != 1 && width != 2 && width != 4 && width != 8) || offset < 0 || offset + width > size) {
            throw new DextException(s, KernReturn.BAD_ARGUMENT, "offset 0x" + Long.toHexString(offset) + " width " + width);
        }
        if (offset % width != 0) {
            throw new DextException(s, KernReturn.NOT_ALIGNED, "offset 0x" + Long.toHexString(offset) + " width " + width);
        }
        return bar(memoryIndex);
    }

    synchronized int setupInterrupts() {
        vectors = Math.min(spec.msixVectors() > 0 ? spec.msixVectors() : spec.msiVectors(), 256);
        return vectors;
    }

    synchronized long[] checkInterrupt() {
        long[] bits = pending.clone();
        java.util.Arrays.fill(pending, 0);
        return bits;
    }

    synchronized void setIrqMask(long[] newMask) {
        System.arraycopy(newMask, 0, mask, 0, 4);
    }

    synchronized void reset() {
        java.util.Arrays.fill(pending, 0);
        if (model != null) {
            model.reset();
        }
    }

    synchronized DmaRegistration registerDma(long key, long clientAddress, long size) throws DextException {
        long page = MappedMemory.pageSize();
        if (size <= 0 || size % page != 0 || clientAddress == 0 || clientAddress % page != 0) {
            throw new DextException(Selector.REGISTER_DMA_REGION, KernReturn.BAD_ARGUMENT,
                    "address 0x" + Long.toHexString(clientAddress) + " size " + size);
        }
        if (dmaByKey.containsKey(key)) {
            throw new DextException(Selector.REGISTER_DMA_REGION, KernReturn.BAD_ARGUMENT, "key 0x" + Long.toHexString(key) + " in use");
        }
        if (dmaByKey.size() >= DMA_REGIONS_LIMIT || dmaBytes + size > DMA_BYTES_LIMIT) {
            throw new DextException(Selector.REGISTER_DMA_REGION, KernReturn.NO_RESOURCES, "platform DMA limits reached");
        }
        DmaRegion r = new DmaRegion(key, clientAddress, size, allocateBus(key, size, page));
        dmaByKey.put(key, r);
        dmaByBus.put(r.bus(), r);
        dmaBytes += size;
        return dext.splitDmaSegments()
                ? new DmaRegistration(2, r.bus(), size / 2)
                : new DmaRegistration(1, r.bus(), size);
    }

    /** First fit above {@link #DMA_BUS_BASE}, a guard page after every region, never at {@code key}. Lock held. */
    private long allocateBus(long key, long size, long page) {
        long candidate = DMA_BUS_BASE;
        for (DmaRegion used : dmaByBus.values()) {
            if (candidate == key) {
                candidate += page;
            }
            if (candidate + size + page <= used.bus()) {
                break;
            }
            candidate = Math.max(candidate, used.bus() + used.size() + page);
        }
        return candidate == key ? candidate + page : candidate;
    }

    synchronized void unregisterDma(long key) throws DextException {
        DmaRegion r = dmaByKey.remove(key);
        if (r == null) {
            throw new DextException(Selector.UNREGISTER_DMA_REGION, KernReturn.NOT_FOUND, "key 0x" + Long.toHexString(key));
        }
        dmaByBus.remove(r.bus());
        dmaBytes -= r.size();
    }

    synchronized long probeDma(long key, long offset) throws DextException {
        DmaRegion r = dmaByKey.get(key);
        if (r == null || offset < 0 || offset + 8 > r.size()) {
            throw new DextException(Selector.PROBE_DMA_REGION, r == null ? KernReturn.NOT_FOUND : KernReturn.BAD_ARGUMENT,
                    "key 0x" + Long.toHexString(key) + " offset " + offset);
        }
        return new Pointer(r.clientAddress() + offset).getLong(0);
    }

    synchronized Fd barFd(int bar) {
        return barFds[bar];
    }

    synchronized void aliasMade() {
        aliasesMade++;
    }

    synchronized void aliasUnmapped() {
        aliasesUnmapped++;
    }

    // ---- interrupts and connections -------------------------------------------------------------

    synchronized void attach(SimulatedConnection c) {
        connections.add(c);
    }

    synchronized void detach(SimulatedConnection c) {
        connections.remove(c);
        notifyAll();
    }

    /** Completes every armed WaitInterrupt (one-shot), unless a lost wake-up was injected. Lock held. */
    void completeArmed() {
        for (SimulatedConnection c : connections) {
            if (c.armed) {
                c.armed = false;
                if (dext.takeLostWakeup()) {
                    lostWakeups++;
                    continue;
                }
                c.completed = true;
            }
        }
        notifyAll();
    }

    /** @return whether any bit is pending. Lock held. */
    boolean anyPending() {
        return (pending[0] | pending[1] | pending[2] | pending[3]) != 0;
    }

    @Override
    public synchronized void raise(int vector) {
        if (vector < 0 || vector >= 256 || vectors < 0 || closed) {
            droppedRaises++; // interrupts not set up: the dext has no handler registered
            return;
        }
        long bit = 1L << (vector & 63);
        if ((mask[vector >>> 6] & bit) == 0) {
            droppedRaises++;
            return;
        }
        pending[vector >>> 6] |= bit;
        completeArmed();
    }

    // ---- DeviceContext --------------------------------------------------------------------------

    @Override
    public ByteBuffer bar(int bar) {
        MappedMemory m = barMemory[bar];
        if (m == null) {
            throw new IllegalArgumentException("BAR" + bar + " is not present");
        }
        ByteBuffer view = m.view().order(ByteOrder.LITTLE_ENDIAN);
        return view.limit((int) spec.bars().get(bar).size()).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public synchronized void dmaRead(long busAddress, byte[] dst, int offset, int length) {
        new Pointer(translate(busAddress, length)).read(0, dst, offset, length);
    }

    @Override
    public synchronized void dmaWrite(long busAddress, byte[] src, int offset, int length) {
        new Pointer(translate(busAddress, length)).write(0, src, offset, length);
    }

    private long translate(long bus, int length) {
        Map.Entry<Long, DmaRegion> e = dmaByBus.floorEntry(bus);
        if (e == null || length < 0 || bus + length > e.getValue().bus() + e.getValue().size()) {
            throw new DmaFaultException("DMA to unregistered bus range 0x" + Long.toHexString(bus) + "+" + length);
        }
        return e.getValue().clientAddress() + (bus - e.getValue().bus());
    }

    @Override
    public Object lock() {
        return this;
    }

    // ---- inspection for tests -------------------------------------------------------------------

    /** @return the function's address */
    public Bdf bdf() {
        return spec.bdf();
    }

    /** @return a copy of the raw config space, as the device holds it */
    public synchronized byte[] configSpace() {
        return config.clone();
    }

    /** @return the current claim count (over all connections) */
    public synchronized int claims() {
        return claims;
    }

    /** @return a copy of the enable mask last set with SetIRQMask */
    public synchronized long[] irqMask() {
        return mask.clone();
    }

    /** @return a copy of the pending bitmap */
    public synchronized long[] pendingBits() {
        return pending.clone();
    }

    /** @return raises dropped because the vector was disabled or interrupts were not set up */
    public synchronized int droppedRaises() {
        return droppedRaises;
    }

    /** @return WaitInterrupt completions swallowed by an injected lost wake-up */
    public synchronized int lostWakeups() {
        return lostWakeups;
    }

    /** @return the bus addresses of the current DMA registrations, ascending */
    public synchronized List<Long> dmaBusAddresses() {
        return new ArrayList<>(dmaByBus.keySet());
    }

    /** @return the keys of the current DMA registrations */
    public synchronized Set<Long> dmaKeys() {
        return Set.copyOf(dmaByKey.keySet());
    }

    /** @return how many BAR aliases (mappings handed over to a caller) were made */
    public synchronized int aliasesMade() {
        return aliasesMade;
    }

    /** @return how many BAR aliases were unmapped again through the dext (rollbacks) */
    public synchronized int aliasesUnmapped() {
        return aliasesUnmapped;
    }

    /** @return the number of open connections to this function's dext instance */
    public synchronized int connections() {
        return connections.size();
    }

    /** @return the device model, or null */
    public DeviceModel model() {
        return model;
    }

    // ---- lifecycle ------------------------------------------------------------------------------

    void close() {
        List<SimulatedConnection> open;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            open = new ArrayList<>(connections);
        }
        open.forEach(SimulatedConnection::close);
        if (model != null) {
            model.close();
        }
        synchronized (this) {
            releaseMemory();
        }
    }

    private void releaseMemory() {
        for (int i = 0; i < 6; i++) {
            if (barMemory[i] != null) {
                try {
                    barMemory[i].unmap();
                } catch (ErrnoException e) {
                    // munmap of our own mapping only fails for a bad range; nothing left to release
                }
                barMemory[i] = null;
            }
            if (barFds[i] != null) {
                barFds[i].close();
                barFds[i] = null;
            }
        }
    }

    @Override
    public String toString() {
        return "simulated dext " + spec.bdf();
    }
}
