package vfio.backend.ioctl.internal;

import static vfio.backend.ioctl.internal.abi.VfioAbi.*;

import com.sun.jna.Memory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.DmaMemory;
import vfio.api.backend.IrqSet;
import vfio.api.backend.MappedArea;
import vfio.api.backend.VfioStructs;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.backend.ioctl.internal.abi.IrqSetEncoder;
import vfio.backend.ioctl.internal.iommu.Attachment;
import vfio.backend.ioctl.internal.kernel.KernelErrors;
import vfio.backend.ioctl.internal.kernel.KernelFile;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;

/**
 * The operations on one device opened through the Linux VFIO driver: ioctls, pread/pwrite and mmap
 * on the device file, DMA through the address space the device is attached to.
 *
 * <p>Device and region infos are read once at open (they are constant while the device is open).
 * Region accesses are one pread/pwrite at the region's file offset, so an access of 1, 2, 4 or 8
 * bytes reaches the device as one access of that width (vfio-pci splits only larger ones).
 *
 * <p><b>Ownership:</b> owns the device file, the dma-bufs it exported and its share of the
 * group/container/iommufd ({@link Attachment#release()}); {@link #close()} releases them all. The
 * mappings {@link #regionMap} returns belong to the core once returned.
 *
 * <p><b>Threading:</b> every method is thread-safe; {@link #close()} runs after all other calls.
 */
final class IoctlDeviceOps implements DeviceIoOps {
    /** Region info replies larger than this are refused (a chain of this size would be absurd). */
    private static final int MAX_REGION_INFO = 64 * 1024;

    private final String name;
    private final Attachment attachment;
    private final KernelFile device;
    private final DeviceInfo info;
    private final List<RegionInfo> regions;
    private final Set<BackendCapability> capabilities;
    private final Map<Long, Long> dmaMappings = new ConcurrentHashMap<>();
    private final Map<Integer, KernelFile> dmaBufs = new ConcurrentHashMap<>();
    /** Null until the first export attempt; then why dma-buf export is unavailable, or "" if it works. */
    private volatile String dmaBufUnavailable;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Regions accessed at least once (see {@link #firstAccess}); a stale false only costs a lock. */
    private final boolean[] accessed;

    private IoctlDeviceOps(String name, Attachment attachment, DeviceInfo info, List<RegionInfo> regions) {
        this.name = name;
        this.attachment = attachment;
        this.device = attachment.device();
        this.info = info;
        this.regions = regions;
        this.accessed = new boolean[regions.size()];
        EnumSet<BackendCapability> caps = EnumSet.of(BackendCapability.REGION_MAP, BackendCapability.DMA,
                BackendCapability.IRQ_SIGNAL_FD, BackendCapability.DEVICE_FEATURE);
        if (attachment.dma().choosesIova()) {
            caps.add(BackendCapability.DMA_IOVA_CHOSEN_BY_BACKEND);
        }
        this.capabilities = Collections.unmodifiableSet(caps);
    }

    /**
     * Reads the device's infos and wraps it. Takes ownership of the attachment: on failure the device
     * file is closed and the attachment released.
     *
     * @param name the device's configured name, for messages
     */
    static IoctlDeviceOps open(String name, Attachment attachment) {
        try {
            DeviceInfo info = readDeviceInfo(attachment.device());
            List<RegionInfo> regions = new ArrayList<>(info.numRegions());
            for (int i = 0; i < info.numRegions(); i++) {
                regions.add(readRegionInfoOrAbsent(attachment.device(), i));
            }
            return new IoctlDeviceOps(name, attachment, info, List.copyOf(regions));
        } catch (RuntimeException e) {
            attachment.device().close();
            attachment.release().run();
            throw e;
        }
    }

    static DeviceInfo readDeviceInfo(KernelFile device) {
        Memory arg = new Memory(DEVICE_INFO_SIZE);
        arg.clear();
        arg.setInt(0, DEVICE_INFO_SIZE);
        try {
            device.ioctl("VFIO_DEVICE_GET_INFO", VFIO_DEVICE_GET_INFO, arg);
        } catch (ErrnoException e) {
            throw KernelErrors.backend("VFIO_DEVICE_GET_INFO", e, "cannot read the device info of " + device.what());
        }
        return VfioStructs.decodeDeviceInfo(arg.getByteBuffer(0, DEVICE_INFO_SIZE), "VFIO_DEVICE_GET_INFO");
    }

    /**
     * As {@link #readRegionInfo}, but a region the kernel does not implement for this device (EINVAL:
     * vfio-pci's VGA region of a non-VGA device) is reported with size 0 and no flags, as the SPI
     * describes absent regions.
     */
    static RegionInfo readRegionInfoOrAbsent(KernelFile device, int index) {
        try {
            return readRegionInfo(device, index);
        } catch (BackendException e) {
            if (e.errno() == Errno.EINVAL) {
                return new RegionInfo(index, 0, 0, 0);
            }
            throw e;
        }
    }

    /**
     * {@code VFIO_DEVICE_GET_REGION_INFO} with the argsz protocol: ask with the fixed size; if the
     * kernel says the capability chain needs more, ask again with that much (a few times at most,
     * since the answer could grow between calls), then decode and validate the chain.
     */
    static RegionInfo readRegionInfo(KernelFile device, int index) {
        String op = "VFIO_DEVICE_GET_REGION_INFO";
        int size = REGION_INFO_SIZE;
        for (int attempt = 0; attempt < 4; attempt++) {
            Memory arg = new Memory(size);
            arg.clear();
            arg.setInt(0, size);
            arg.setInt(REGION_INFO_INDEX, index);
            try {
                device.ioctl(op, VFIO_DEVICE_GET_REGION_INFO, arg);
            } catch (ErrnoException e) {
                throw KernelErrors.backend(op, e, "cannot read the info of region " + index + " of " + device.what());
            }
            ByteBuffer reply = arg.getByteBuffer(0, size);
            int needed = VfioStructs.regionInfoArgsz(reply.duplicate(), op);
            if (needed <= size) {
                return VfioStructs.decodeRegionInfo(reply, index, op);
            }
            if (needed > MAX_REGION_INFO) {
                throw new BackendException(op, 0, null, "region " + index + " of " + device.what() + " claims a "
                        + needed + "-byte info, more than the " + MAX_REGION_INFO + " bytes accepted");
            }
            size = needed;
        }
        throw new BackendException(op, 0, null, "the info of region " + index + " of " + device.what()
                + " kept growing between calls");
    }

    @Override
    public DeviceInfo deviceInfo() {
        return info;
    }

    @Override
    public Set<BackendCapability> capabilities() {
        return capabilities;
    }

    @Override
    public RegionInfo regionInfo(int index) {
        return region(index);
    }

    @Override
    public IrqInfo irqInfo(int index) {
        if (index < 0 || index >= info.numIrqs()) {
            throw new IllegalArgumentException("IRQ index " + index + " outside 0.." + (info.numIrqs() - 1));
        }
        Memory arg = new Memory(IRQ_INFO_SIZE);
        arg.clear();
        arg.setInt(0, IRQ_INFO_SIZE);
        arg.setInt(8, index);
        try {
            device.ioctl("VFIO_DEVICE_GET_IRQ_INFO", VFIO_DEVICE_GET_IRQ_INFO, arg);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EINVAL) {
                // vfio-pci answers EINVAL for an index the device lacks (ERR on a conventional PCI device).
                return new IrqInfo(index, 0, 0);
            }
            throw KernelErrors.backend("VFIO_DEVICE_GET_IRQ_INFO", e, "cannot read IRQ index " + index + " of " + name);
        }
        return VfioStructs.decodeIrqInfo(arg.getByteBuffer(0, IRQ_INFO_SIZE), index, "VFIO_DEVICE_GET_IRQ_INFO");
    }

    @Override
    public void setIrqs(IrqSet set) {
        if (set.index() >= info.numIrqs()) {
            throw new IllegalArgumentException("IRQ index " + set.index() + " outside 0.." + (info.numIrqs() - 1)
                    + " of " + name);
        }
        ByteBuffer encoded = IrqSetEncoder.encode(set);
        Memory arg = new Memory(encoded.capacity());
        arg.write(0, encoded.array(), 0, encoded.capacity());
        try {
            device.ioctl("VFIO_DEVICE_SET_IRQS", VFIO_DEVICE_SET_IRQS, arg);
        } catch (ErrnoException e) {
            if (e.errno() == 22 && isDisableAll(set)) {
                return; // Linux refuses to disable an index that is not enabled; disabling is idempotent here
            }
            throw KernelErrors.backend("VFIO_DEVICE_SET_IRQS", e, set.action() + " of vectors " + set.start() + ".."
                    + (set.start() + set.count() - 1) + " of IRQ index " + set.index() + " of " + name + " refused");
        }
    }

    private static boolean isDisableAll(IrqSet set) {
        return set.action() == IrqSet.Action.TRIGGER && set.count() == 0 && set.data() instanceof IrqSet.Data.None;
    }

    /**
     * The first read or write of a BAR makes Linux 6.1 map it for pread/pwrite without a lock, and two
     * threads racing there get EBUSY: the first access to each region is serialised, later ones run
     * concurrently.
     */
    private void firstAccess(int index, Runnable access) {
        if (accessed[index]) {
            access.run();
            return;
        }
        synchronized (accessed) {
            access.run();
            accessed[index] = true;
        }
    }

    @Override
    public void regionRead(int index, long offset, ByteBuffer dst) {
        region(index); // the index check comes first
        if (!accessed[index]) {
            firstAccess(index, () -> read(index, offset, dst));
        } else {
            read(index, offset, dst);
        }
    }

    private void read(int index, long offset, ByteBuffer dst) {
        RegionInfo r = region(index);
        long at = r.offset() + offset;
        while (dst.hasRemaining()) {
            int n;
            try {
                n = device.pread(dst, at);
            } catch (ErrnoException e) {
                throw KernelErrors.backend("pread", e, "cannot read region " + index + " of " + name + " at 0x"
                        + Long.toHexString(offset));
            }
            if (n <= 0) {
                throw new BackendException("pread", 0, null, "region " + index + " of " + name + " ended at 0x"
                        + Long.toHexString(at - r.offset()));
            }
            at += n;
        }
    }

    @Override
    public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
        region(index);
        if (!accessed[index]) {
            firstAccess(index, () -> write(index, offset, src));
        } else {
            write(index, offset, src);
        }
    }

    private void write(int index, long offset, ByteBuffer src) {
        RegionInfo r = region(index);
        long at = r.offset() + offset;
        while (src.hasRemaining()) {
            int n;
            try {
                n = device.pwrite(src, at);
            } catch (ErrnoException e) {
                throw KernelErrors.backend("pwrite", e, "cannot write region " + index + " of " + name + " at 0x"
                        + Long.toHexString(offset));
            }
            if (n <= 0) {
                throw new BackendException("pwrite", 0, null, "region " + index + " of " + name + " ended at 0x"
                        + Long.toHexString(at - r.offset()));
            }
            at += n;
        }
    }

    /**
     * Maps each area at the region's file offset plus the area's offset. Areas whose offset is not
     * page aligned are left out (mmap cannot place them); a size is rounded up to whole pages, as the
     * kernel does. After mapping, exports the areas as a dma-buf where the kernel offers it (as
     * QEMU does), held until {@link #regionUnmap}.
     */
    @Override
    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
        RegionInfo r = region(region.index());
        if (!r.has(RegionInfo.FLAG_MMAP)) {
            return List.of();
        }
        long page = MappedMemory.pageSize();
        List<MappedArea> mapped = new ArrayList<>(areas.size());
        List<MappedMemory> memories = new ArrayList<>(areas.size());
        for (SparseArea a : areas) {
            if ((a.offset() & (page - 1)) != 0) {
                continue;
            }
            try {
                MappedMemory m = device.map(r.offset() + a.offset(), MappedMemory.roundUpToPage(a.size()),
                        r.has(RegionInfo.FLAG_WRITE));
                memories.add(m);
                mapped.add(new MappedArea(a.offset(), a.size(), m.address()));
            } catch (ErrnoException e) {
                for (MappedMemory m : memories) {
                    try {
                        m.unmap();
                    } catch (ErrnoException ignored) {
                        // nothing else to do; the range was ours
                    }
                }
                throw KernelErrors.backend("mmap", e, "cannot map 0x" + Long.toHexString(a.size()) + " bytes at 0x"
                        + Long.toHexString(a.offset()) + " of region " + r.index() + " of " + name);
            }
        }
        if (!mapped.isEmpty()) {
            exportDmaBuf(r, mapped);
        }
        return List.copyOf(mapped);
    }

    /** Releases the region's dma-buf; the core has revoked and will unmap the address ranges. */
    @Override
    public void regionUnmap(int index, List<MappedArea> areas) {
        KernelFile buf = dmaBufs.remove(index);
        if (buf != null) {
            buf.close();
        }
    }

    /**
     * {@code VFIO_DEVICE_FEATURE} GET of {@code VFIO_DEVICE_FEATURE_DMA_BUF} over the mapped areas.
     * Best effort: a kernel without the feature (before Linux 6.19) answers ENOTTY, which is
     * remembered; any other refusal is remembered as the reason, and mapping goes on without it.
     */
    private void exportDmaBuf(RegionInfo region, List<MappedArea> areas) {
        if (dmaBufUnavailable != null && !dmaBufUnavailable.isEmpty()) {
            return;
        }
        int payload = DMA_BUF_SIZE + DMA_RANGE_SIZE * areas.size();
        Memory arg = new Memory(DEVICE_FEATURE_SIZE + payload);
        arg.clear();
        arg.setInt(0, DEVICE_FEATURE_SIZE + payload);
        arg.setInt(DEVICE_FEATURE_FLAGS, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF);
        long p = DEVICE_FEATURE_DATA;
        arg.setInt(p + DMA_BUF_REGION_INDEX, region.index());
        arg.setInt(p + DMA_BUF_OPEN_FLAGS, Fd.O_RDWR | Fd.O_CLOEXEC);
        arg.setInt(p + DMA_BUF_NR_RANGES, areas.size());
        for (int i = 0; i < areas.size(); i++) {
            long range = p + DMA_BUF_RANGES + (long) DMA_RANGE_SIZE * i;
            arg.setLong(range, areas.get(i).offset());
            arg.setLong(range + 8, MappedMemory.roundUpToPage(areas.get(i).size()));
        }
        try {
            int fd = device.ioctl("VFIO_DEVICE_FEATURE(DMA_BUF)", VFIO_DEVICE_FEATURE, arg);
            KernelFile old = dmaBufs.put(region.index(), device.adopt(fd, "dma-buf of region " + region.index() + " of " + name));
            if (old != null) {
                old.close();
            }
            dmaBufUnavailable = "";
        } catch (ErrnoException e) {
            dmaBufUnavailable = e.errno() == Errno.ENOTTY
                    ? "the kernel has no VFIO_DEVICE_FEATURE_DMA_BUF (Linux 6.19+ with CONFIG_VFIO_PCI_DMABUF)"
                    : "VFIO_DEVICE_FEATURE_DMA_BUF refused: " + e.getMessage();
        }
    }

    /**
     * @return the dma-buf descriptor exported for a mapped region (owned by this object), if any
     */
    Optional<Integer> dmaBufDescriptor(int region) {
        KernelFile f = dmaBufs.get(region);
        return f == null ? Optional.empty() : Optional.of(f.descriptor());
    }

    /** @return why no dma-buf was exported, "" if export works, or null if none was attempted yet */
    String dmaBufUnavailable() {
        return dmaBufUnavailable;
    }

    /** @return which API and files this device uses, for the shell */
    String describe() {
        return attachment.description() + "; DMA through " + attachment.dma().describe();
    }

    @Override
    public void reset() {
        if (!info.canReset()) {
            throw new NotSupportedException(name + " cannot be reset: the kernel reports no reset method for it"
                    + " (no VFIO_DEVICE_FLAGS_RESET)");
        }
        try {
            device.ioctl("VFIO_DEVICE_RESET", VFIO_DEVICE_RESET, 0);
        } catch (ErrnoException e) {
            throw KernelErrors.backend("VFIO_DEVICE_RESET", e, "reset of " + name + " failed");
        }
    }

    @Override
    public long dmaMap(DmaMemory memory, long iova, boolean deviceReads, boolean deviceWrites) {
        long got = attachment.dma().map(memory, iova, deviceReads, deviceWrites);
        dmaMappings.put(got, memory.size());
        return got;
    }

    @Override
    public void dmaUnmap(long iova, long size) {
        // type1 answers success for an unknown range and unmaps whatever an oversized one covers:
        // the contract (unmap must match a map) is checked here, before the kernel sees it.
        Long mapped = dmaMappings.get(iova);
        if (mapped == null || mapped != size) {
            throw new BackendException("VFIO_IOMMU_UNMAP_DMA", 22, "EINVAL", name + ": no DMA mapping of 0x"
                    + Long.toHexString(size) + " bytes at IOVA 0x" + Long.toHexString(iova)
                    + (mapped == null ? "" : " (the mapping there is 0x" + Long.toHexString(mapped) + " bytes)")
                    + "; an unmap must match a map exactly");
        }
        attachment.dma().unmap(iova, size);
        dmaMappings.remove(iova);
    }

    /**
     * {@inheritDoc}
     *
     * <p>For GET, {@code payload}'s length is the size of the data buffer the kernel fills (pass
     * zeros for a feature without input). Features whose answer is a new file descriptor ({@code
     * DMA_BUF} GET, {@code MIG_DEVICE_STATE} SET) are refused here: their descriptors would leak
     * through a byte array; the backend exports dma-bufs itself in {@link #regionMap}.
     */
    @Override
    public byte[] deviceFeature(int flags, byte[] payload) {
        int feature = flags & VFIO_DEVICE_FEATURE_MASK;
        boolean probe = (flags & VFIO_DEVICE_FEATURE_PROBE) != 0;
        if (!probe && ((feature == VFIO_DEVICE_FEATURE_DMA_BUF && (flags & VFIO_DEVICE_FEATURE_GET) != 0)
                || (feature == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE && (flags & VFIO_DEVICE_FEATURE_SET) != 0))) {
            throw new NotSupportedException("device feature " + feature + " returns a file descriptor, which"
                    + " deviceFeature cannot carry; the backend exports dma-bufs itself when a region is mapped");
        }
        Memory arg = new Memory(DEVICE_FEATURE_SIZE + payload.length);
        arg.clear();
        arg.setInt(0, DEVICE_FEATURE_SIZE + payload.length);
        arg.setInt(DEVICE_FEATURE_FLAGS, flags);
        arg.write(DEVICE_FEATURE_DATA, payload, 0, payload.length);
        try {
            device.ioctl("VFIO_DEVICE_FEATURE", VFIO_DEVICE_FEATURE, arg);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.ENOTTY) {
                throw new NotSupportedException("device feature " + feature + " is not supported by " + name
                        + " (VFIO_DEVICE_FEATURE failed with ENOTTY)");
            }
            throw KernelErrors.backend("VFIO_DEVICE_FEATURE", e, "feature " + feature + " (flags 0x"
                    + Integer.toHexString(flags) + ") of " + name + " refused");
        }
        if (probe || (flags & VFIO_DEVICE_FEATURE_GET) == 0) {
            return new byte[0];
        }
        return arg.getByteArray(DEVICE_FEATURE_DATA, payload.length);
    }

    /**
     * Unmaps this device's DMA mappings from the shared address space, closes dma-bufs and the device
     * file (the kernel then disables interrupts and resets the device) and releases the share of the
     * group/container/iommufd.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (Map.Entry<Long, Long> m : dmaMappings.entrySet()) {
            try {
                attachment.dma().unmap(m.getKey(), m.getValue());
            } catch (RuntimeException e) {
                // The space is shared: keep going; closing the last device drops every mapping anyway.
            }
        }
        dmaMappings.clear();
        for (KernelFile buf : dmaBufs.values()) {
            buf.close();
        }
        dmaBufs.clear();
        device.close();
        attachment.release().run();
    }

    private RegionInfo region(int index) {
        if (index < 0 || index >= regions.size()) {
            throw new IllegalArgumentException("region index " + index + " outside 0.." + (regions.size() - 1)
                    + " of " + name);
        }
        return regions.get(index);
    }

    /** The VFIO device file, for the guest tests that measure a bare pread beside {@link #regionRead}. */
    KernelFile deviceFile() {
        return device;
    }

    @Override
    public String toString() {
        return "IoctlDeviceOps[" + name + ", " + describe() + "]";
    }
}
