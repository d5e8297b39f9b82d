package vfio.backend.user.internal.device;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.DmaMemory;
import vfio.api.backend.IrqSet;
import vfio.api.backend.MappedArea;
import vfio.api.backend.VfioStructs;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.backend.user.internal.dma.DmaWindows;
import vfio.backend.user.internal.transport.Connection;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFdSeals;
import vfio.user.protocol.ArgszFlags;
import vfio.user.protocol.Capabilities;
import vfio.user.protocol.Command;
import vfio.user.protocol.DmaMap;
import vfio.user.protocol.DmaUnmap;
import vfio.user.protocol.Message;
import vfio.user.protocol.ProtocolException;
import vfio.user.protocol.RegionAccess;

/**
 * A device served by a vfio-user server: the {@link DeviceIoOps} of the vfio-user backend, each
 * operation one or more requests on a {@link Connection}.
 *
 * <p>Every reply is validated before use (sizes, echoed fields, descriptor counts, capability
 * chains through {@link VfioStructs}); a reply that breaks the protocol fails the connection, so this
 * and every later call throw a {@link DeviceUnavailableException} naming what the server did wrong.
 * Descriptors a reply carries unexpectedly are closed.
 *
 * <p><b>Threading:</b> all methods from any thread, concurrently (requests are pipelined on the
 * connection). <b>Ownership:</b> owns the connection and the region descriptors the server sent;
 * {@link #close()} releases them. Memory mapped by {@link #regionMap} is unmapped by the core.
 */
public final class VfioUserDevice implements DeviceIoOps {
    /** The argsz of the first region info request (the fixed part only). */
    static final int REGION_INFO_FIRST_ARGSZ = VfioStructs.REGION_INFO_SIZE;
    /** Reply room offered for a device feature GET (the feature's data after the 8-byte header). */
    static final int FEATURE_GET_ROOM = 64 * 1024;
    /** Size of one sub-region of a DEVICE_GET_REGION_IO_FDS reply. */
    static final int IO_FD_ENTRY_SIZE = 40;
    private static final int[] NO_FDS = new int[0];
    private static final System.Logger LOG = System.getLogger(VfioUserDevice.class.getName());

    private final String name;
    private final Connection connection;
    private final DmaWindows dma;
    private final DeviceInfo info;
    private final int maxTransfer;
    private final int maxFds;
    private final int maxDmaMaps;
    private final boolean migration;
    private final boolean mapUnsealed;
    private final Map<Integer, Fd> regionFds = new HashMap<>();
    /** IRQ infos as reported, to refuse vectors the server would have to refuse itself. */
    private final Map<Integer, IrqInfo> irqInfos = new java.util.concurrent.ConcurrentHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Reads the device info and wraps the connection.
     *
     * @param name       the device's name, for messages
     * @param connection an open, negotiated connection; owned by the device from now on (closed if
     *                   this constructor fails)
     * @param dma        the DMA windows the connection serves; the device adds and removes them
     * @param mapUnsealed whether to map region descriptors that are not sealed against shrinking
     *                    (see {@link #regionMap})
     */
    public VfioUserDevice(String name, Connection connection, DmaWindows dma, boolean mapUnsealed) {
        this.name = name;
        this.connection = connection;
        this.dma = dma;
        this.mapUnsealed = mapUnsealed;
        Capabilities caps = connection.capabilities();
        this.maxTransfer = caps.maxDataXferSize();
        this.maxFds = caps.maxMsgFds();
        this.maxDmaMaps = caps.maxDmaMaps();
        this.migration = caps.migration().isPresent();
        try {
            this.info = fetchDeviceInfo();
        } catch (RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    private DeviceInfo fetchDeviceInfo() {
        ByteBuffer req = le(VfioStructs.DEVICE_INFO_SIZE).putInt(VfioStructs.DEVICE_INFO_SIZE).putInt(0).putInt(0)
                .putInt(0).flip();
        try (Message reply = connection.call(Command.DEVICE_GET_INFO, req, NO_FDS)) {
            return decoded(() -> VfioStructs.decodeDeviceInfo(reply.body(), Command.DEVICE_GET_INFO.name()));
        }
    }

    @Override
    public DeviceInfo deviceInfo() {
        return info;
    }

    @Override
    public Set<BackendCapability> capabilities() {
        return EnumSet.of(BackendCapability.REGION_MAP, BackendCapability.POSTED_WRITES, BackendCapability.DMA,
                BackendCapability.IRQ_SIGNAL_FD, BackendCapability.DEVICE_FEATURE);
    }

    // ---- regions ---------------------------------------------------------------------------------

    /**
     * {@inheritDoc}
     *
     * <p>Asks with a 32-byte argsz first and again with the argsz the server needs when the region
     * has a capability chain. The region's descriptor (for {@link RegionInfo#FLAG_MMAP} regions) is
     * kept for {@link #regionMap} and replaces one from an earlier call.
     */
    @Override
    public RegionInfo regionInfo(int index) {
        checkIndex(index, info.numRegions(), "region");
        String op = Command.DEVICE_GET_REGION_INFO.name();
        int argsz = REGION_INFO_FIRST_ARGSZ;
        for (int attempt = 0; attempt < 2; attempt++) {
            try (Message reply = connection.call(Command.DEVICE_GET_REGION_INFO, regionInfoRequest(index, argsz), NO_FDS)) {
                ByteBuffer body = reply.body();
                if (body.remaining() > argsz) {
                    throw malformed(op, "a " + body.remaining() + "-byte region info for region " + index
                            + " when at most " + argsz + " bytes were asked for");
                }
                int needed = decoded(() -> VfioStructs.regionInfoArgsz(body, op));
                if (needed > body.remaining()) {
                    if (attempt == 1) {
                        throw malformed(op, "region " + index + " info needs " + needed + " bytes after it was given "
                                + argsz);
                    }
                    argsz = needed;
                    continue; // reply.close() drops any descriptor sent with the short answer
                }
                RegionInfo r = decoded(() -> VfioStructs.decodeRegionInfo(body, index, op));
                keepRegionFd(r, reply);
                return r;
            }
        }
        throw new IllegalStateException("unreachable");
    }

    private static ByteBuffer regionInfoRequest(int index, int argsz) {
        return le(VfioStructs.REGION_INFO_SIZE).putInt(argsz).putInt(0).putInt(index).putInt(0).putLong(0).putLong(0)
                .flip();
    }

    private void keepRegionFd(RegionInfo r, Message reply) {
        List<Fd> fds = reply.takeFds();
        Fd keep = null;
        if (r.has(RegionInfo.FLAG_MMAP) && fds.size() == 1) {
            keep = fds.get(0);
        } else {
            if (!fds.isEmpty() || r.has(RegionInfo.FLAG_MMAP)) {
                LOG.log(Level.WARNING, "device {0}: {1} sent {2} descriptor(s) with the info of region {3} (flags 0x{4});"
                        + " expected {5}: region not mapped", name, connection.server(), fds.size(), r.index(),
                        Integer.toHexString(r.flags()), r.has(RegionInfo.FLAG_MMAP) ? "1" : "none");
            }
            fds.forEach(Fd::close);
        }
        Fd old;
        synchronized (regionFds) {
            old = keep == null ? regionFds.remove(r.index()) : regionFds.put(r.index(), keep);
        }
        if (old != null) {
            old.close();
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Maps each area of the server's descriptor at {@code region.offset + area.offset}. Areas whose
     * file offset is not page aligned, or that reach past the end of the file, are left out (the core
     * reads and writes them instead). Without a descriptor for the region the result is empty.
     *
     * <p>Touching a mapped page beyond the end of its file raises SIGBUS, so a server that shrinks the
     * file under a mapping could crash this process. Unless configured otherwise, only descriptors
     * sealed against shrinking ({@code F_SEAL_SHRINK}, a memfd) are mapped; for others the region
     * stays on the message path.
     */
    @Override
    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
        Fd fd;
        synchronized (regionFds) {
            fd = regionFds.get(region.index());
        }
        if (fd == null && region.has(RegionInfo.FLAG_MMAP)) {
            regionInfo(region.index()); // fetches the descriptor again, e.g. after a regionUnmap
            synchronized (regionFds) {
                fd = regionFds.get(region.index());
            }
        }
        if (fd == null) {
            return List.of();
        }
        long fileSize = mappableSize(fd, region.index());
        if (fileSize < 0) {
            return List.of();
        }
        long page = MappedMemory.pageSize();
        List<MappedArea> mapped = new ArrayList<>(areas.size());
        List<MappedMemory> made = new ArrayList<>(areas.size());
        try {
            for (SparseArea a : areas) {
                long fileOffset = region.offset() + a.offset();
                if (region.offset() < 0 || fileOffset < region.offset() || (fileOffset & (page - 1)) != 0
                        || a.size() > fileSize - Math.min(fileSize, fileOffset)) {
                    LOG.log(Level.INFO, "device {0}: region {1} area 0x{2}+0x{3} is at file offset 0x{4} of a 0x{5}-byte"
                            + " file: not page aligned or past its end; it is accessed by messages", name,
                            region.index(), Long.toHexString(a.offset()), Long.toHexString(a.size()),
                            Long.toHexString(fileOffset), Long.toHexString(fileSize));
                    continue;
                }
                MappedMemory m = MappedMemory.map(fd, fileOffset, a.size(), true);
                made.add(m);
                mapped.add(new MappedArea(a.offset(), a.size(), m.address()));
            }
        } catch (ErrnoException e) {
            for (MappedMemory m : made) {
                try {
                    m.unmap();
                } catch (ErrnoException ignored) {
                    // nothing else can be done; the range is ours and unused
                }
            }
            throw new BackendException("mmap", e.errno(), e.errnoName(), "mapping region " + region.index() + " of device "
                    + name + " from " + connection.server() + " failed: " + e.getMessage(), e);
        }
        return mapped;
    }

    /**
     * @return the size of the region's file if it may be mapped, else -1 (reason logged)
     */
    private long mappableSize(Fd fd, int index) {
        try {
            int seals = MemFdSeals.seals(fd);
            if ((seals & MemFdSeals.F_SEAL_SHRINK) == 0 && !mapUnsealed) {
                LOG.log(Level.WARNING, "device {0}: {1} passed region {2} in a file that is not sealed against shrinking;"
                        + " it is accessed by messages (a shrinking file would fault mapped accesses). Servers should"
                        + " pass sealed memfds; vfio.backend.user's map.unsealed.region.fds=true maps anyway",
                        name, connection.server(), index);
                return -1;
            }
            // stat() through /proc follows the descriptor to its file.
            return Files.size(Path.of("/proc/self/fd/" + fd.value()));
        } catch (IOException e) {
            LOG.log(Level.WARNING, "device {0}: cannot inspect the descriptor of region {1} ({2}); not mapping it",
                    name, index, e.getMessage());
            return -1;
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Closes the region's descriptor; the pages themselves were revoked and are unmapped by the
     * core. A later {@link #regionMap} fetches a new descriptor.
     */
    @Override
    public void regionUnmap(int index, List<MappedArea> areas) {
        Fd fd;
        synchronized (regionFds) {
            fd = regionFds.remove(index);
        }
        if (fd != null) {
            fd.close();
        }
    }

    @Override
    public void regionRead(int index, long offset, ByteBuffer dst) {
        checkIndex(index, info.numRegions(), "region");
        long at = offset;
        while (dst.hasRemaining()) {
            int n = Math.min(dst.remaining(), maxTransfer);
            ByteBuffer req = le(RegionAccess.SIZE);
            RegionAccess asked = new RegionAccess(at, index, n);
            asked.encode(req);
            try (Message reply = connection.call(Command.REGION_READ, req.flip(), NO_FDS)) {
                ByteBuffer body = reply.body();
                RegionAccess got = decodeAccess(body, "REGION_READ");
                if (!got.equals(asked) || body.remaining() != n) {
                    throw malformed(Command.REGION_READ.name(), "the reply to a read of " + n + " bytes at 0x"
                            + Long.toHexString(at) + " of region " + index + " says " + got + " and carries "
                            + body.remaining() + " data bytes");
                }
                dst.put(body);
            }
            at += n;
        }
    }

    @Override
    public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
        checkIndex(index, info.numRegions(), "region");
        long at = offset;
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), maxTransfer);
            ByteBuffer req = le(RegionAccess.SIZE + n);
            RegionAccess asked = new RegionAccess(at, index, n);
            asked.encode(req);
            req.position(RegionAccess.SIZE);
            ByteBuffer chunk = src.duplicate();
            chunk.limit(chunk.position() + n);
            req.put(chunk).flip();
            if (posted) {
                connection.post(Command.REGION_WRITE, req);
            } else {
                try (Message reply = connection.call(Command.REGION_WRITE, req, NO_FDS)) {
                    ByteBuffer body = reply.body();
                    RegionAccess got = decodeAccess(body, "REGION_WRITE");
                    if (!got.equals(asked) || body.hasRemaining()) {
                        throw malformed(Command.REGION_WRITE.name(), "the reply to a write of " + n + " bytes at 0x"
                                + Long.toHexString(at) + " of region " + index + " says " + got + " and carries "
                                + body.remaining() + " more bytes");
                    }
                }
            }
            src.position(src.position() + n);
            at += n;
        }
    }

    private RegionAccess decodeAccess(ByteBuffer body, String what) {
        try {
            RegionAccess a = RegionAccess.decode(body, maxTransfer, what + " reply");
            body.position(RegionAccess.SIZE);
            return a;
        } catch (ProtocolException e) {
            throw malformed(what, e.getMessage());
        }
    }

    /**
     * Asks the server for the region's I/O descriptors ({@code DEVICE_GET_REGION_IO_FDS}). The platform
     * has no consumer for ioeventfds, so the descriptors are closed; a server without the feature
     * (count 0 or {@code ENOTTY}/{@code ENOSYS}) yields an empty list.
     *
     * @return the sub-regions the server reported, validated against the region's size
     */
    public List<RegionIoFd> regionIoFds(int index, long regionSize) {
        checkIndex(index, info.numRegions(), "region");
        String op = Command.DEVICE_GET_REGION_IO_FDS.name();
        int argsz = 16 + IO_FD_ENTRY_SIZE * 64;
        ByteBuffer req = le(16).putInt(argsz).putInt(0).putInt(index).putInt(0).flip();
        try (Message reply = connection.call(Command.DEVICE_GET_REGION_IO_FDS, req, NO_FDS)) {
            ByteBuffer b = reply.body();
            int fdCount = reply.fdCount();
            reply.close(); // no consumer for the descriptors on this platform
            if (b.remaining() < 16) {
                throw malformed(op, "a " + b.remaining() + "-byte reply (at least 16 expected)");
            }
            int count = b.getInt(12);
            if (b.getInt(8) != index || count < 0 || (long) count * IO_FD_ENTRY_SIZE != b.remaining() - 16) {
                throw malformed(op, "a reply for region " + b.getInt(8) + " with " + Integer.toUnsignedString(count)
                        + " sub-regions in " + (b.remaining() - 16) + " bytes");
            }
            List<RegionIoFd> result = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                int at = 16 + i * IO_FD_ENTRY_SIZE;
                RegionIoFd s = new RegionIoFd(b.getLong(at), b.getLong(at + 8), b.getInt(at + 16), b.getInt(at + 20),
                        b.getInt(at + 24), b.getLong(at + 32));
                if (s.offset() < 0 || s.size() < 0 || s.offset() > regionSize || s.size() > regionSize - s.offset()
                        || s.fdIndex() < 0 || s.fdIndex() >= fdCount) {
                    throw malformed(op, "sub-region " + i + " " + s + " lies outside region " + index + " (0x"
                            + Long.toHexString(regionSize) + " bytes) or names descriptor " + s.fdIndex() + " of "
                            + fdCount);
                }
                result.add(s);
            }
            return result;
        } catch (BackendException e) {
            if (e.errno() == Errno.ENOTTY || e.errno() == Errno.ENOSYS || e.errno() == Errno.EOPNOTSUPP) {
                return List.of();
            }
            throw e;
        }
    }

    /**
     * One sub-region of a {@code DEVICE_GET_REGION_IO_FDS} reply.
     *
     * @param offset    offset in the region
     * @param size      size in bytes (0: any access size)
     * @param fdIndex   which of the reply's descriptors it uses
     * @param type      0 ioeventfd, 1 ioregionfd
     * @param flags     KVM ioeventfd/ioregion flags
     * @param datamatch datamatch value (ioeventfd) or user data (ioregionfd)
     */
    public record RegionIoFd(long offset, long size, int fdIndex, int type, int flags, long datamatch) {
    }

    // ---- IRQs --------------------------------------------------------------------------------------

    @Override
    public IrqInfo irqInfo(int index) {
        checkIndex(index, info.numIrqs(), "IRQ");
        ByteBuffer req = le(VfioStructs.IRQ_INFO_SIZE).putInt(VfioStructs.IRQ_INFO_SIZE).putInt(0).putInt(index)
                .putInt(0).flip();
        try (Message reply = connection.call(Command.DEVICE_GET_IRQ_INFO, req, NO_FDS)) {
            IrqInfo info = decoded(() -> VfioStructs.decodeIrqInfo(reply.body(), index,
                    Command.DEVICE_GET_IRQ_INFO.name()));
            irqInfos.put(index, info);
            return info;
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Signals are sent as SCM_RIGHTS, split into messages of at most the negotiated max_msg_fds
     * (see {@link IrqMessages}); if a later message fails, the earlier ones have taken effect.
     */
    @Override
    public void setIrqs(IrqSet set) {
        checkIndex(set.index(), info.numIrqs(), "IRQ");
        // Disabling a whole index (count 0) is always valid; other ranges must lie within its vectors,
        // whatever a lenient server would accept.
        if (set.count() > 0 || !(set.data() instanceof IrqSet.Data.None)) {
            IrqInfo irq = irqInfos.get(set.index());
            int vectors = (irq != null ? irq : irqInfo(set.index())).count();
            if (set.start() > vectors || set.count() > vectors - set.start()) {
                throw new IllegalArgumentException("vectors " + set.start() + ".." + (set.start() + set.count() - 1)
                        + " of IRQ index " + set.index() + " outside its " + vectors + " vector(s)");
            }
        }
        for (IrqMessages.Part p : IrqMessages.of(set, maxFds)) {
            connection.call(Command.DEVICE_SET_IRQS, p.body(), p.fds()).close();
        }
    }

    // ---- device ------------------------------------------------------------------------------------

    @Override
    public void reset() {
        if (!info.canReset()) {
            throw new NotSupportedException("device " + name + " at " + connection.server()
                    + " does not support reset (its device info lacks VFIO_DEVICE_FLAGS_RESET)");
        }
        connection.call(Command.DEVICE_RESET, null, NO_FDS).close();
    }

    @Override
    public byte[] deviceFeature(int flags, byte[] payload) {
        boolean get = (flags & FEATURE_GET) != 0 && (flags & FEATURE_PROBE) == 0;
        int room = get ? Math.max(payload.length, FEATURE_GET_ROOM) : payload.length;
        ByteBuffer req = le(ArgszFlags.SIZE + payload.length);
        new ArgszFlags(ArgszFlags.SIZE + room, flags).encode(req);
        req.position(ArgszFlags.SIZE);
        req.put(payload).flip();
        String op = Command.DEVICE_FEATURE.name();
        try (Message reply = connection.call(Command.DEVICE_FEATURE, req, NO_FDS)) {
            ByteBuffer b = reply.body();
            if (b.remaining() < ArgszFlags.SIZE || b.remaining() > ArgszFlags.SIZE + room) {
                throw malformed(op, "a " + b.remaining() + "-byte reply to feature " + (flags & FEATURE_MASK)
                        + " (between 8 and " + (ArgszFlags.SIZE + room) + " expected)");
            }
            if (!get) {
                return new byte[0];
            }
            byte[] data = new byte[b.remaining() - ArgszFlags.SIZE];
            b.get(ArgszFlags.SIZE, data);
            return data;
        } catch (BackendException e) {
            if (e.errno() == Errno.ENOTTY || e.errno() == Errno.ENOSYS || e.errno() == Errno.EOPNOTSUPP) {
                throw new NotSupportedException("device " + name + " at " + connection.server()
                        + " does not support feature " + (flags & FEATURE_MASK) + " with flags 0x"
                        + Integer.toHexString(flags & ~FEATURE_MASK) + " (" + e.errnoName() + ")");
            }
            throw e;
        }
    }

    // ---- DMA ---------------------------------------------------------------------------------------

    /**
     * {@inheritDoc}
     *
     * <p>The memory's descriptor (if it has one) goes with {@code DMA_MAP}, so the server can map it;
     * either way the range is entered in the table the server's {@code DMA_READ}/{@code DMA_WRITE}
     * are checked against, before the request is sent (the server may use it as soon as it has it).
     */
    @Override
    public long dmaMap(DmaMemory memory, long iova, boolean deviceReads, boolean deviceWrites) {
        long size = memory.size();
        if ((iova & 4095) != 0 || (size & 4095) != 0 || size <= 0) {
            throw new IllegalArgumentException("DMA mapping 0x" + Long.toHexString(iova) + "+0x" + Long.toHexString(size)
                    + " is not made of whole 4 KiB pages");
        }
        if (dma.count() >= maxDmaMaps) {
            throw new BackendException(Command.DMA_MAP.name(), Errno.ENOSPC, "ENOSPC", connection.server()
                    + " accepts at most " + maxDmaMaps + " DMA mappings (its max_dma_maps)");
        }
        dma.add(iova, memory, deviceReads, deviceWrites);
        int fd = memory.fd();
        DmaMap m = new DmaMap((deviceReads ? DmaMap.FLAG_READ : 0) | (deviceWrites ? DmaMap.FLAG_WRITE : 0),
                fd >= 0 ? memory.fdOffset() : 0, iova, size);
        try {
            connection.call(Command.DMA_MAP, m.encode(), fd >= 0 ? new int[] {fd} : NO_FDS).close();
        } catch (RuntimeException e) {
            dma.remove(iova, size);
            throw e;
        }
        return iova;
    }

    /**
     * {@inheritDoc}
     *
     * <p>The range leaves the table first, so from this call on the server's {@code DMA_READ}/{@code
     * DMA_WRITE} to it are refused; then the server is told.
     */
    @Override
    public void dmaUnmap(long iova, long size) {
        dma.remove(iova, size);
        connection.call(Command.DMA_UNMAP, new DmaUnmap(0, iova, size).encode(), NO_FDS).close();
    }

    // ---- migration ---------------------------------------------------------------------------------

    @Override
    public int migrationDataRead(ByteBuffer dst) {
        requireMigration();
        int n = Math.min(dst.remaining(), maxTransfer);
        if (n == 0) {
            return 0;
        }
        ByteBuffer req = le(ArgszFlags.SIZE);
        new ArgszFlags(ArgszFlags.SIZE + n, n).encode(req);
        String op = Command.MIG_DATA_READ.name();
        try (Message reply = connection.call(Command.MIG_DATA_READ, req.position(ArgszFlags.SIZE).flip(), NO_FDS)) {
            ByteBuffer b = reply.body();
            if (b.remaining() < ArgszFlags.SIZE) {
                throw malformed(op, "a " + b.remaining() + "-byte reply (at least 8 expected)");
            }
            int size = b.getInt(4);
            // The reply may be padded beyond the data: its size field counts.
            if (size < 0 || size > n || size > b.remaining() - ArgszFlags.SIZE) {
                throw malformed(op, "a reply claiming " + Integer.toUnsignedString(size) + " bytes of migration data"
                        + " when " + n + " were asked for and " + (b.remaining() - ArgszFlags.SIZE) + " came");
            }
            dst.put(b.position(ArgszFlags.SIZE).limit(ArgszFlags.SIZE + size));
            return size;
        }
    }

    @Override
    public void migrationDataWrite(ByteBuffer src) {
        requireMigration();
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), maxTransfer);
            ByteBuffer req = le(ArgszFlags.SIZE + n);
            new ArgszFlags(ArgszFlags.SIZE + n, n).encode(req);
            req.position(ArgszFlags.SIZE);
            ByteBuffer chunk = src.duplicate();
            chunk.limit(chunk.position() + n);
            req.put(chunk).flip();
            connection.call(Command.MIG_DATA_WRITE, req, NO_FDS).close();
            src.position(src.position() + n);
        }
    }

    private void requireMigration() {
        if (!migration) {
            throw new NotSupportedException("device " + name + " at " + connection.server()
                    + " does not offer migration (no \"migration\" capability in its VERSION reply)");
        }
    }

    // ---- lifecycle ---------------------------------------------------------------------------------

    /**
     * {@inheritDoc}
     *
     * <p>Closing the socket is what tells the server: it then resets the device, drops the DMA
     * mappings and closes the IRQ descriptors (vfio-user's disconnect rules), so nothing is sent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        connection.close();
        dma.clear();
        List<Fd> fds;
        synchronized (regionFds) {
            fds = new ArrayList<>(regionFds.values());
            regionFds.clear();
        }
        fds.forEach(Fd::close);
    }

    /** @return whether the server's commands come on a socket of their own (twin-socket mode) */
    public boolean twinSocket() {
        return connection.twinSocket();
    }

    /** @return the connection's failure reason, or null while it works (for diagnostics and tests) */
    public String failureReason() {
        return connection.failureReason();
    }

    // ---- helpers -----------------------------------------------------------------------------------

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void checkIndex(int index, int count, String what) {
        if (index < 0 || index >= count) {
            throw new IllegalArgumentException(what + " index " + index + " outside [0, " + count + ")");
        }
    }

    /** The server broke the protocol: fail the connection and report it. */
    private DeviceUnavailableException malformed(String op, String what) {
        return connection.fail(connection.server() + " sent a malformed " + op + " reply: " + what, null);
    }

    /** Runs a {@link VfioStructs} decoder; a malformed reply fails the connection. */
    private <T> T decoded(Supplier<T> decoder) {
        try {
            return decoder.get();
        } catch (BackendException e) {
            throw connection.fail(connection.server() + ": " + e.getMessage(), e);
        }
    }
}
