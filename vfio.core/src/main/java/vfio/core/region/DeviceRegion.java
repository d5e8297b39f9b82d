package vfio.core.region;

import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.MappedArea;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.api.device.Region;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.core.session.BackendSession;
import vfio.core.session.SessionSource;

/**
 * One region of a device, the same object across every backend the device is bound to.
 *
 * <p><b>Fast path</b> (mapped areas): read {@link #view}; if the access is aligned and inside one
 * mapped chunk, access the memory with volatile semantics (loads by address through {@link
 * RawLoads} where the JVM allows it, else {@link VarHandle#getVolatile}; stores with {@link
 * VarHandle#setVolatile}; for 1 byte, which has no byte-buffer VarHandle, a plain byte access
 * between fences), then read {@link #view} again. If it is unchanged, or changed without the old
 * view being revoked (mapping disabled, or the binder has not revoked yet), the access reached the
 * device. Otherwise it raced with an unmap: a read is redone on the slow path (so a read with side
 * effects may reach the device twice in that rare race), a write throws {@link
 * DeviceUnavailableException} saying it may or may not have reached the device. See {@link
 * MappedView} for why this can never fault. If the first mapped chunk starts at region offset 0 (a
 * fully mapped BAR, the common case), an access is first tried through {@link #zeroBased}, the same
 * view without the lookup: there the region offset is the chunk offset.
 *
 * <p>Loads use the mapping only if the region is readable, stores only if it is writable: a backend
 * may map a read-only region read-only, where a store would fault (the region's flags decide, as on
 * the slow path, which then refuses the access).
 *
 * <p><b>Slow path</b> (everything else, including unaligned accesses and accesses straddling a
 * mapped and an unmapped part, which the backend then performs as it sees fit): range checks, then
 * the backend's region read or write through the session gate, with a per-thread 8-byte buffer so
 * that scalar accesses allocate nothing.
 *
 * <p><b>Threading:</b> accessors from any thread. {@link #setUp}, {@link #publish}, {@link
 * #withdraw} and {@link #tearDown} are the binder's, one at a time.
 */
public final class DeviceRegion implements Region {
    private static final System.Logger LOG = System.getLogger("vfio.core.region");
    private static final VarHandle SHORT = MethodHandles.byteBufferViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final ThreadLocal<ByteBuffer> SCRATCH =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(8).order(ByteOrder.LITTLE_ENDIAN));
    /** Largest slow-path transfer handed to a backend in one call. */
    private static final int MAX_SLOW_TRANSFER = 1 << 20;

    private final SessionSource device;
    private final int index;
    private final String name;

    /** What accessors use: the published mapping, or null for "slow path only". */
    private volatile MappedView view;
    /** {@link #view} if it is {@link MappedView#zeroBased}, else null: its first chunk needs no lookup. */
    private volatile MappedView zeroBased;
    /**
     * What stores use: as {@link #view} and {@link #zeroBased}, but only for a region the backend reports
     * writable (a read-only region may be mapped read-only: a store there would crash the JVM).
     */
    private volatile MappedView writeView;
    private volatile MappedView zeroBasedForWrites;
    private volatile RegionInfo info;
    private volatile boolean mappingEnabled = true;
    private volatile boolean posted;

    // Guarded by this: the mapping of the current session, published or not.
    private MappedView mapping;
    private BackendSession mappedIn;
    private boolean published;

    /**
     * @param device where backend sessions come from
     * @param index  the region index
     * @param info   the region's info as first reported
     */
    public DeviceRegion(SessionSource device, int index, RegionInfo info) {
        this.device = device;
        this.index = index;
        this.name = Pci.regionName(index);
        this.info = info;
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return info.size();
    }

    @Override
    public RegionInfo info() {
        return info;
    }

    @Override
    public synchronized List<SparseArea> mappedRanges() {
        MappedView v = published && mappingEnabled ? mapping : null; // whatever directions it serves
        return v == null ? List.of() : v.ranges();
    }

    /** @return whether the driver allows the mapped fast path */
    public boolean isMappingEnabled() {
        return mappingEnabled;
    }

    @Override
    public synchronized void setMappingEnabled(boolean enabled) {
        mappingEnabled = enabled;
        setView(enabled && published ? mapping : null);
    }

    @Override
    public void setPostedWrites(boolean posted) {
        this.posted = posted;
    }

    // ---------------------------------------------------------------- fast path: reads

    @Override
    public int read8(long offset) {
        MappedView w = zeroBased;
        long wAt = w == null ? -1 : w.locateFromZero(offset, 1);
        if (wAt >= 0) {
            int value = load8(w, wAt);
            if (zeroBased == w || !w.revoked) {
                Reference.reachabilityFence(w);
                return value;
            }
        }
        MappedView v = view;
        if (v != null && v != w) { // a view tried above as w has no chunk for this access
            long at = v.locate(offset, 1);
            if (at >= 0) {
                int value = load8(v, at);
                if (view == v || !v.revoked) {
                    Reference.reachabilityFence(v);
                    return value;
                }
            }
        }
        Reference.reachabilityFence(w);
        Reference.reachabilityFence(v);
        return (int) readSlow(offset, 1);
    }

    @Override
    public int read16(long offset) {
        MappedView w = zeroBased;
        long wAt = w == null ? -1 : w.locateFromZero(offset, 2);
        if (wAt >= 0) {
            int value = load16(w, wAt);
            if (zeroBased == w || !w.revoked) {
                Reference.reachabilityFence(w);
                return value;
            }
        }
        MappedView v = view;
        if (v != null && v != w) { // a view tried above as w has no chunk for this access
            long at = v.locate(offset, 2);
            if (at >= 0) {
                int value = load16(v, at);
                if (view == v || !v.revoked) {
                    Reference.reachabilityFence(v);
                    return value;
                }
            }
        }
        Reference.reachabilityFence(w);
        Reference.reachabilityFence(v);
        return (int) readSlow(offset, 2);
    }

    @Override
    public int read32(long offset) {
        MappedView w = zeroBased;
        long wAt = w == null ? -1 : w.locateFromZero(offset, 4);
        if (wAt >= 0) {
            int value = load32(w, wAt);
            if (zeroBased == w || !w.revoked) {
                Reference.reachabilityFence(w);
                return value;
            }
        }
        MappedView v = view;
        if (v != null && v != w) { // a view tried above as w has no chunk for this access
            long at = v.locate(offset, 4);
            if (at >= 0) {
                int value = load32(v, at);
                if (view == v || !v.revoked) {
                    Reference.reachabilityFence(v);
                    return value;
                }
            }
        }
        Reference.reachabilityFence(w);
        Reference.reachabilityFence(v);
        return (int) readSlow(offset, 4);
    }

    @Override
    public long read64(long offset) {
        MappedView w = zeroBased;
        long wAt = w == null ? -1 : w.locateFromZero(offset, 8);
        if (wAt >= 0) {
            long value = load64(w, wAt);
            if (zeroBased == w || !w.revoked) {
                Reference.reachabilityFence(w);
                return value;
            }
        }
        MappedView v = view;
        if (v != null && v != w) { // a view tried above as w has no chunk for this access
            long at = v.locate(offset, 8);
            if (at >= 0) {
                long value = load64(v, at);
                if (view == v || !v.revoked) {
                    Reference.reachabilityFence(v);
                    return value;
                }
            }
        }
        Reference.reachabilityFence(w);
        Reference.reachabilityFence(v);
        return readSlow(offset, 8);
    }

    // The loads and stores of the fast paths, at a location from MappedView.locate or locateFromZero:
    // in bounds and aligned, so never outside the mapping.

    private static int load8(MappedView v, long at) {
        if (RawLoads.ENABLED) {
            return RawLoads.load8(v.address(at));
        }
        int value = v.buffer(at).get((int) at) & 0xff;
        VarHandle.acquireFence(); // the load is done before the view is read again
        return value;
    }

    private static int load16(MappedView v, long at) {
        return RawLoads.ENABLED ? RawLoads.load16(v.address(at))
                : (short) SHORT.getVolatile(v.buffer(at), (int) at) & 0xffff;
    }

    private static int load32(MappedView v, long at) {
        return RawLoads.ENABLED ? RawLoads.load32(v.address(at)) : (int) INT.getVolatile(v.buffer(at), (int) at);
    }

    private static long load64(MappedView v, long at) {
        return RawLoads.ENABLED ? RawLoads.load64(v.address(at)) : (long) LONG.getVolatile(v.buffer(at), (int) at);
    }

    private static void store8(MappedView v, long at, int value) {
        VarHandle.releaseFence();
        v.buffer(at).put((int) at, (byte) value);
        VarHandle.fullFence(); // the store is visible before the view is read again
    }

    private static void store16(MappedView v, long at, int value) {
        SHORT.setVolatile(v.buffer(at), (int) at, (short) value);
    }

    private static void store32(MappedView v, long at, int value) {
        INT.setVolatile(v.buffer(at), (int) at, value);
    }

    private static void store64(MappedView v, long at, long value) {
        LONG.setVolatile(v.buffer(at), (int) at, value);
    }

    // ---------------------------------------------------------------- fast path: writes

    @Override
    public void write8(long offset, int value) {
        MappedView w = zeroBasedForWrites;
        long wAt = w == null ? -1 : w.locateFromZero(offset, 1);
        if (wAt >= 0) {
            store8(w, wAt, value);
            checkWriteLanded(w, zeroBasedForWrites, offset, 1);
            return;
        }
        MappedView v = writeView;
        if (v != null && v != w) { // a view tried above as w has no chunk for this access
            long at = v.locate(offset, 1);
            if (at >= 0) {
                store8(v, at, value);
                checkWriteLanded(v, writeView, offset, 1);
                return;
            }
        }
        Reference.reachabilityFence(w);
        Reference.reachabilityFence(v);
        writeSlow(offset, 1, value);
    }

    @Override
    public void write16(long offset, int value) {
        MappedView w = zeroBasedForWrites;
        long wAt = w == null ? -1 : w.locateFromZero(offset, 2);
        if (wAt >= 0) {
            store16(w, wAt, value);
            checkWriteLanded(w, zeroBasedForWrites, offset, 2);
            return;
        }
        MappedView v = writeView;
        if (v != null && v != w) { // a view tried above as w has no chunk for this access
            long at = v.locate(offset, 2);
            if (at >= 0) {
                store16(v, at, value);
                checkWriteLanded(v, writeView, offset, 2);
                return;
            }
        }
        Reference.reachabilityFence(w);
        Reference.reachabilityFence(v);
        writeSlow(offset, 2, value);
    }

    @Override
    public void write32(long offset, int value) {
        MappedView w = zeroBasedForWrites;
        long wAt = w == null ? -1 : w.locateFromZero(offset, 4);
        if (wAt >= 0) {
            store32(w, wAt, value);
            checkWriteLanded(w, zeroBasedForWrites, offset, 4);
            return;
        }
        MappedView v = writeView;
        if (v != null && v != w) { // a view tried above as w has no chunk for this access
            long at = v.locate(offset, 4);
            if (at >= 0) {
                store32(v, at, value);
                checkWriteLanded(v, writeView, offset, 4);
                return;
            }
        }
        Reference.reachabilityFence(w);
        Reference.reachabilityFence(v);
        writeSlow(offset, 4, value);
    }

    @Override
    public void write64(long offset, long value) {
        MappedView w = zeroBasedForWrites;
        long wAt = w == null ? -1 : w.locateFromZero(offset, 8);
        if (wAt >= 0) {
            store64(w, wAt, value);
            checkWriteLanded(w, zeroBasedForWrites, offset, 8);
            return;
        }
        MappedView v = writeView;
        if (v != null && v != w) { // a view tried above as w has no chunk for this access
            long at = v.locate(offset, 8);
            if (at >= 0) {
                store64(v, at, value);
                checkWriteLanded(v, writeView, offset, 8);
                return;
            }
        }
        Reference.reachabilityFence(w);
        Reference.reachabilityFence(v);
        writeSlow(offset, 8, value);
    }

    /**
     * After a mapped store through {@code v}, read from a field that now holds {@code now}: throws
     * if the view was revoked meanwhile (the store may have hit the placeholder).
     */
    private void checkWriteLanded(MappedView v, MappedView now, long offset, int width) {
        if (now != v && v.revoked) {
            Reference.reachabilityFence(v);
            throw raced(offset, width);
        }
        Reference.reachabilityFence(v);
    }

    private DeviceUnavailableException raced(long offset, long length) {
        return new DeviceUnavailableException("write of " + length + " bytes at 0x" + Long.toHexString(offset)
                + " to " + this + " raced with an unmap (the backend is being swapped): it may or may not"
                + " have reached the device; check the device state and write again if needed");
    }

    // ---------------------------------------------------------------- bulk

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) {
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        MappedView v = view;
        if (v != null && length > 0) {
            int c = v.chunkContaining(offset, length);
            if (c >= 0) {
                v.buffers[c].get((int) (offset - v.starts[c]), dst, dstOffset, length);
                VarHandle.fullFence();
                if (view == v || !v.revoked) {
                    Reference.reachabilityFence(v);
                    return;
                }
            }
        }
        Reference.reachabilityFence(v);
        bulkSlow(offset, ByteBuffer.wrap(dst, dstOffset, length), true);
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) {
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        MappedView v = writeView;
        if (v != null && length > 0) {
            int c = v.chunkContaining(offset, length);
            if (c >= 0) {
                VarHandle.releaseFence();
                v.buffers[c].put((int) (offset - v.starts[c]), src, srcOffset, length);
                VarHandle.fullFence();
                if (writeView != v && v.revoked) {
                    Reference.reachabilityFence(v);
                    throw raced(offset, length);
                }
                Reference.reachabilityFence(v);
                return;
            }
        }
        Reference.reachabilityFence(v);
        bulkSlow(offset, ByteBuffer.wrap(src, srcOffset, length), false);
    }

    // ---------------------------------------------------------------- slow path

    private long readSlow(long offset, int width) {
        check(info, offset, width, true);
        BackendSession s = device.enter(this);
        try {
            check(info, offset, width, true); // the info of the session we entered
            ByteBuffer b = SCRATCH.get().clear().limit(width);
            s.ops().regionRead(index, offset, b);
            if (b.position() != width) {
                throw shortTransfer("REGION_READ", s, offset, b.position(), width);
            }
            return switch (width) {
                case 1 -> b.get(0) & 0xffL;
                case 2 -> b.getShort(0) & 0xffffL;
                case 4 -> b.getInt(0) & 0xffffffffL;
                default -> b.getLong(0);
            };
        } catch (DeviceUnavailableException e) {
            throw s.lost(e);
        } finally {
            s.exit();
        }
    }

    private void writeSlow(long offset, int width, long value) {
        check(info, offset, width, false);
        BackendSession s = device.enter(this);
        try {
            check(info, offset, width, false);
            ByteBuffer b = SCRATCH.get().clear().limit(width);
            switch (width) {
                case 1 -> b.put(0, (byte) value);
                case 2 -> b.putShort(0, (short) value);
                case 4 -> b.putInt(0, (int) value);
                default -> b.putLong(0, value);
            }
            boolean post = posted && s.has(BackendCapability.POSTED_WRITES);
            try {
                s.ops().regionWrite(index, offset, b, post);
            } catch (BackendException e) {
                if (!post) {
                    throw e;
                }
                LOG.log(Level.WARNING, "posted write of " + width + " bytes at 0x" + Long.toHexString(offset)
                        + " to " + this + " failed: " + e.getMessage());
                return;
            }
            if (!post && b.hasRemaining()) {
                throw shortTransfer("REGION_WRITE", s, offset, b.position(), width);
            }
        } catch (DeviceUnavailableException e) {
            throw s.lost(e);
        } finally {
            s.exit();
        }
    }

    private void bulkSlow(long offset, ByteBuffer data, boolean read) {
        int length = data.remaining();
        check(info, offset, length, read);
        if (length == 0) {
            return;
        }
        BackendSession s = device.enter(this);
        try {
            check(info, offset, length, read);
            int start = data.position();
            for (int done = 0; done < length; ) {
                int n = Math.min(MAX_SLOW_TRANSFER, length - done);
                data.limit(start + done + n).position(start + done);
                if (read) {
                    s.ops().regionRead(index, offset + done, data);
                } else {
                    s.ops().regionWrite(index, offset + done, data, false);
                }
                if (data.hasRemaining()) {
                    throw shortTransfer(read ? "REGION_READ" : "REGION_WRITE", s, offset + done,
                            data.position() - start - done, n);
                }
                done += n;
            }
        } catch (DeviceUnavailableException e) {
            throw s.lost(e);
        } finally {
            s.exit();
        }
    }

    private void check(RegionInfo i, long offset, long length, boolean read) {
        if (offset < 0 || length > i.size() || offset > i.size() - length) {
            throw new OutOfRangeException((read ? "read" : "write") + " of " + length + " bytes at 0x"
                    + Long.toHexString(offset) + " is outside " + this + ", whose size is 0x"
                    + Long.toHexString(i.size()) + " (" + i.size() + ") bytes");
        }
        int needed = read ? RegionInfo.FLAG_READ : RegionInfo.FLAG_WRITE;
        if (!i.has(needed)) {
            throw new NotSupportedException(this + " cannot be " + (read ? "read" : "written")
                    + ": the backend reports flags 0x" + Integer.toHexString(i.flags()));
        }
    }

    private BackendException shortTransfer(String op, BackendSession s, long offset, int done, int wanted) {
        return new BackendException(op, 0, null, "backend " + s.backendId() + " transferred " + done + " of "
                + wanted + " bytes at 0x" + Long.toHexString(offset) + " of " + this);
    }

    // ---------------------------------------------------------------- lifecycle (binder thread)

    /**
     * Takes the region's info from a new session and maps what the layout allows, without letting
     * accessors use it yet ({@link #publish}). A layout the core rejects or a backend that cannot
     * map leaves the region on the slow path, logged.
     *
     * @throws DeviceUnavailableException if the backend is gone (the bind fails)
     */
    public void setUp(BackendSession s, RegionInfo newInfo) {
        synchronized (this) {
            info = newInfo;
        }
        List<SparseArea> areas;
        try {
            areas = RegionLayout.mappableAreas(device.deviceName(), newInfo);
        } catch (RegionLayout.InvalidLayoutException e) {
            LOG.log(Level.WARNING, e.getMessage());
            return;
        }
        if (areas.isEmpty()) {
            return;
        }
        if (!s.has(BackendCapability.REGION_MAP)) {
            LOG.log(Level.DEBUG, () -> "backend " + s.backendId() + " cannot map regions; " + this
                    + " uses region read/write");
            return;
        }
        List<MappedArea> mapped;
        try {
            mapped = s.ops().regionMap(newInfo, areas);
        } catch (NotSupportedException | BackendException e) {
            LOG.log(Level.WARNING, "backend " + s.backendId() + " could not map " + this + ": " + e.getMessage()
                    + "; using region read/write");
            return;
        }
        if (mapped == null || mapped.isEmpty()) {
            return;
        }
        MappedView m;
        try {
            m = MappedView.of(mapped, areas);
        } catch (IllegalArgumentException e) {
            // Nobody has seen these addresses, so there is nothing to revoke; the backend releases them.
            LOG.log(Level.ERROR, "backend " + s.backendId() + " mapped " + this + " wrongly (" + e.getMessage()
                    + "); using region read/write");
            try {
                s.ops().regionUnmap(index, mapped);
            } catch (RuntimeException ex) {
                LOG.log(Level.WARNING, "region unmap of " + this + " failed: " + ex.getMessage());
            }
            return;
        }
        synchronized (this) {
            mapping = m;
            mappedIn = s;
        }
    }

    /** Lets accessors use the mapping set up by {@link #setUp} (unless the driver disabled it). */
    public synchronized void publish() {
        published = true;
        setView(mappingEnabled ? mapping : null);
    }

    /** Sends every new access to the slow path; the mapping stays until {@link #tearDown}. */
    public synchronized void withdraw() {
        published = false;
        setView(null);
    }

    private void setView(MappedView v) {
        RegionInfo i = info;
        view = v != null && i.has(RegionInfo.FLAG_READ) ? v : null;
        zeroBased = view != null && v.zeroBased ? v : null;
        writeView = v != null && i.has(RegionInfo.FLAG_WRITE) ? v : null;
        zeroBasedForWrites = writeView != null && v.zeroBased ? v : null;
    }

    /**
     * Releases what {@link #setUp} mapped for session {@code s}: revokes the mapping, then calls the
     * backend's region unmap, exactly once per successful map. Call after {@link #withdraw()} and
     * after the session's gate has drained. Errors are logged, never thrown.
     */
    public void tearDown(BackendSession s) {
        MappedView m;
        synchronized (this) {
            if (mappedIn != s || mapping == null) {
                return;
            }
            m = mapping;
            mapping = null;
            mappedIn = null;
            published = false;
            setView(null);
        }
        try {
            if (m.revoke()) {
                try {
                    s.ops().regionUnmap(index, m.areas());
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "backend " + s.backendId() + " failed to unmap " + this + ": "
                            + e.getMessage());
                }
            }
        } finally {
            Reference.reachabilityFence(m); // the placeholder stays mapped until regionUnmap returned
        }
    }

    /** Marks the region as absent on the current backend (it reports fewer regions): size 0. */
    public synchronized void setAbsent() {
        info = new RegionInfo(index, 0, 0, 0);
    }

    @Override
    public String toString() {
        return "region " + name + " of device " + device.deviceName();
    }
}
