package vfio.user.server.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import vfio.api.device.DeviceInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFdSeals;
import vfio.user.server.Bar;
import vfio.user.server.RegionHandler;

/**
 * The live device behind a {@link vfio.user.server.PciDevice}: config space, BAR backing, interrupt
 * and DMA state, migration state machine; region access as the vfio-user REGION_READ/WRITE
 * commands need it.
 *
 * <p>Threading: region access, reset and migration are called by the connection thread only;
 * interrupts, DMA and the shared-memory views are thread-safe.
 */
public final class DeviceModel {
    private static final System.Logger LOG = System.getLogger(DeviceModel.class.getName());

    /** A defined BAR and, for shared memory, its memfd and the server's own mapping of it. */
    private record BarSlot(Bar bar, Fd memfd, MappedMemory memory, ByteBuffer view) {
    }

    private final Definition definition;
    private final ConfigSpace config;
    private final IrqState irqs;
    private final DmaEngine dma;
    private final BarSlot[] bars = new BarSlot[6];
    private final AtomicBoolean served = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    public DeviceModel(Definition definition) throws IOException {
        this.definition = definition;
        this.config = new ConfigSpace(definition);
        this.irqs = new IrqState(definition, config);
        this.dma = new DmaEngine(config);
        try {
            for (int i = 0; i < 6; i++) {
                Optional<Bar> b = definition.bars().get(i);
                if (b.isPresent()) {
                    bars[i] = slot(i, b.get());
                }
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private static BarSlot slot(int index, Bar bar) throws ErrnoException {
        if (!bar.isSharedMemory()) {
            return new BarSlot(bar, null, null, null);
        }
        // Sealed against resizing: a client may map it only if it can never shrink under the mapping.
        Fd fd = MemFdSeals.createSealed("vfio-user-bar" + index, bar.size());
        try {
            MappedMemory mem = MappedMemory.map(fd, 0, bar.size(), true);
            return new BarSlot(bar, fd, mem, mem.view());
        } catch (ErrnoException e) {
            fd.close();
            throw e;
        }
    }

    public IrqState interrupts() {
        return irqs;
    }

    public DmaEngine dma() {
        return dma;
    }

    public ConfigSpace config() {
        return config;
    }

    /** @return the migration handler, if the device is migratable */
    Optional<vfio.user.server.MigrationHandler> migration() {
        return definition.migration();
    }

    /** @return a new view of shared-memory BAR {@code index} */
    public ByteBuffer sharedMemory(int index) {
        if (index < 0 || index > 5 || bars[index] == null || bars[index].view == null) {
            throw new IllegalArgumentException("BAR " + index + " is not a shared-memory BAR of this device");
        }
        if (closed.get()) {
            throw new IllegalStateException("the device is closed");
        }
        return bars[index].view.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Marks the device as served.
     *
     * @throws IllegalStateException if a server already serves it, or it is closed
     */
    public void claim() {
        if (closed.get()) {
            throw new IllegalStateException("the device is closed");
        }
        if (!served.compareAndSet(false, true)) {
            throw new IllegalStateException("the device is already served by another VfioUserServer");
        }
    }

    /** Marks the device as no longer served. */
    public void release() {
        served.set(false);
    }

    DeviceInfo deviceInfo() {
        return new DeviceInfo(DeviceInfo.FLAG_PCI | DeviceInfo.FLAG_RESET, Pci.NUM_REGIONS, Pci.NUM_IRQS);
    }

    /** @return the region info of {@code index}, which the caller checked is below {@link Pci#NUM_REGIONS} */
    RegionInfo regionInfo(int index) {
        if (index == Pci.REGION_CONFIG) {
            return new RegionInfo(index, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE, ConfigSpace.SIZE, 0);
        }
        if (index > 5 || bars[index] == null) {
            return new RegionInfo(index, 0, 0, 0);
        }
        Bar bar = bars[index].bar;
        int flags = RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE;
        if (!bar.isSharedMemory()) {
            return new RegionInfo(index, flags, bar.size(), 0);
        }
        List<RegionCapability> caps = bar.mmapAreas().isEmpty() ? List.of()
                : List.of(new RegionCapability.SparseMmap(bar.mmapAreas()));
        return new RegionInfo(index, flags | RegionInfo.FLAG_MMAP, bar.size(), 0, caps);
    }

    /** @return the memfd the client maps for region {@code index}, or null if it is not mappable */
    Fd regionFd(int index) {
        return index >= 0 && index <= 5 && bars[index] != null ? bars[index].memfd : null;
    }

    /**
     * Reads {@code len} bytes of region {@code index} at {@code offset} into {@code buf}.
     *
     * @throws Refused EINVAL outside the region; EIO if the device's handler failed
     */
    void regionRead(int index, long offset, byte[] buf, int len) throws Refused {
        access(index, offset, buf, len, false);
    }

    /** Writes {@code len} bytes of {@code buf} to region {@code index} at {@code offset}. */
    void regionWrite(int index, long offset, byte[] buf, int len) throws Refused {
        access(index, offset, buf, len, true);
    }

    private void access(int index, long offset, byte[] buf, int len, boolean write) throws Refused {
        long size = index >= 0 && index < Pci.NUM_REGIONS ? regionInfo(index).size() : 0;
        if (offset < 0 || len < 0 || offset + len > size || offset + len < offset) {
            throw new Refused(Errno.EINVAL, "access of " + len + " bytes at 0x" + Long.toUnsignedString(offset, 16)
                    + " is outside region " + index + " (" + size + " bytes)");
        }
        if (len == 0) {
            return;
        }
        if (index == Pci.REGION_CONFIG) {
            if (write) {
                config.write((int) offset, buf, 0, len);
                irqs.configChanged();
            } else {
                config.read((int) offset, buf, 0, len);
            }
            return;
        }
        BarSlot s = bars[index];
        try {
            if (!s.bar.isSharedMemory()) {
                callbacks(s.bar, offset, buf, 0, len, write);
            } else {
                sharedAccess(s, offset, buf, len, write);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the device failed a " + (write ? "write" : "read") + " of " + len + " bytes at BAR"
                    + index + "+0x" + Long.toHexString(offset), e);
            throw new Refused(Errno.EIO, "the device failed the access: " + e);
        }
    }

    private static void sharedAccess(BarSlot s, long offset, byte[] buf, int len, boolean write) {
        List<SparseArea> areas = s.bar.mmapAreas();
        int done = 0;
        while (done < len) {
            long at = offset + done;
            long memoryEnd = areas.isEmpty() ? s.bar.size() : -1;
            long trapEnd = s.bar.size();
            for (SparseArea a : areas) {
                if (at >= a.offset() && at < a.end()) {
                    memoryEnd = a.end();
                    break;
                }
                if (a.offset() > at) {
                    trapEnd = a.offset();
                    break;
                }
            }
            if (memoryEnd > 0) {
                int n = (int) Math.min(len - done, memoryEnd - at);
                ByteBuffer mem = s.view.duplicate().position((int) at);
                if (write) {
                    mem.put(buf, done, n);
                } else {
                    mem.get(buf, done, n);
                }
                done += n;
            } else {
                int n = (int) Math.min(len - done, trapEnd - at);
                callbacks(s.bar, at, buf, done, n, write);
                done += n;
            }
        }
    }

    /** Splits an access into naturally aligned 1/2/4/8-byte handler calls (4 at most for I/O). */
    private static void callbacks(Bar bar, long offset, byte[] buf, int bufOffset, int len, boolean write) {
        RegionHandler h = bar.handler().orElseThrow();
        int maxWidth = bar.type() == Bar.Type.IO ? 4 : 8;
        int done = 0;
        while (done < len) {
            long at = offset + done;
            int w = maxWidth;
            while (w > 1 && ((at & (w - 1)) != 0 || w > len - done)) {
                w >>= 1;
            }
            int p = bufOffset + done;
            if (write) {
                long v = 0;
                for (int i = w - 1; i >= 0; i--) {
                    v = v << 8 | (buf[p + i] & 0xff);
                }
                h.write(at, w, v);
            } else {
                long v = h.read(at, w);
                for (int i = 0; i < w; i++) {
                    buf[p + i] = (byte) (v >>> (8 * i));
                }
            }
            done += w;
        }
    }

    /**
     * Resets the device: config space, interrupt state, then the device's own reset callback. The
     * migration state is reset by the connection, which owns it.
     */
    void reset() {
        config.reset();
        irqs.reset();
        try {
            definition.reset().run();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "the device's reset callback failed", e);
        }
    }

    /**
     * Releases the shared memory. Idempotent.
     *
     * @throws IllegalStateException while a server serves the device (its client could still reach
     *                               the memory): close the server first
     */
    public void close() {
        if (served.get()) {
            throw new IllegalStateException("the device is still served; close its VfioUserServer first");
        }
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (int i = 0; i < 6; i++) {
            BarSlot s = bars[i];
            if (s != null && s.memory != null) {
                try {
                    s.memory.unmap();
                } catch (ErrnoException e) {
                    LOG.log(Level.WARNING, "munmap of BAR" + i + " failed", e);
                }
                s.memfd.close();
            }
        }
    }

    @Override
    public String toString() {
        return String.format("PciDevice[%04x:%04x]", definition.vendorId(), definition.deviceId());
    }
}
