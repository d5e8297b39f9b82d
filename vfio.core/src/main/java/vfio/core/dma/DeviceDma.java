package vfio.core.dma;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;
import vfio.api.backend.BackendCapability;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.DmaBuffer;
import vfio.api.device.NotSupportedException;
import vfio.core.session.BackendSession;
import vfio.core.session.SessionSource;
import vfio.posix.ErrnoException;
import vfio.posix.MappedMemory;

/**
 * A device's DMA buffers: allocates them, maps them through the bound backend, unmaps them when the
 * backend leaves and maps them again on the next one, telling drivers when the IOVA changed.
 *
 * <p>IOVAs are the core's choice ({@link IovaAllocator}), stable across rebinds, unless the backend
 * has {@link BackendCapability#DMA_IOVA_CHOSEN_BY_BACKEND}; then the previous IOVA is only a hint.
 *
 * <p><b>Threading:</b> {@link #allocate} and buffer methods from any thread; {@link #tearDown} and
 * {@link #restore} are the binder's. A buffer's state is guarded by the buffer; its backend calls
 * on a driver's behalf run inside the session gate.
 */
public final class DeviceDma {
    private static final System.Logger LOG = System.getLogger("vfio.core.dma");

    private final SessionSource device;
    private final IovaAllocator iovas = IovaAllocator.PLATFORM;
    private final Set<Buffer> buffers = ConcurrentHashMap.newKeySet();
    private final AtomicInteger serial = new AtomicInteger();

    /** @param device where backend sessions come from */
    public DeviceDma(SessionSource device) {
        this.device = device;
    }

    /**
     * Implements {@link vfio.api.device.Device#allocateDma}.
     *
     * @throws IllegalArgumentException   if {@code size < 1} or {@code maxIova < -1}
     * @throws NotSupportedException      if the backend cannot map DMA
     * @throws DeviceUnavailableException if no backend is bound within the access timeout
     * @throws BackendException           if the backend refused, or mapped above {@code maxIova}
     * @throws DeviceException            if memory or IOVA space ran out
     */
    public DmaBuffer allocate(long size, long maxIova) {
        if (size < 1) {
            throw new IllegalArgumentException("DMA buffer size must be at least 1 byte, got " + size);
        }
        if (maxIova < -1) {
            throw new IllegalArgumentException("maxIova must be -1 (no limit) or an address, got " + maxIova);
        }
        long rounded = MappedMemory.roundUpToPage(size);
        BackendSession s = device.enter("DMA allocation");
        try {
            if (!s.has(BackendCapability.DMA)) {
                throw new NotSupportedException("backend " + s.backendId() + " cannot map DMA for device "
                        + device.deviceName());
            }
            long iova = iovas.allocate(rounded, maxIova);
            DmaMemoryBlock block;
            try {
                block = DmaMemoryBlock.allocate("vfio-dma-" + device.deviceName() + "-" + serial.incrementAndGet(),
                        rounded);
            } catch (ErrnoException e) {
                iovas.release(iova);
                throw new DeviceException("cannot allocate " + rounded + " bytes of DMA memory for device "
                        + device.deviceName() + ": " + e.getMessage(), e);
            }
            Buffer b = new Buffer(block, iova, maxIova);
            try {
                synchronized (b) {
                    b.mapInto(s);
                }
            } catch (RuntimeException e) {
                iovas.release(iova);
                block.free();
                throw e;
            }
            buffers.add(b);
            return b;
        } catch (DeviceUnavailableException e) {
            throw s.lost(e);
        } finally {
            s.exit();
        }
    }

    /** Unmaps every buffer mapped in session {@code s}. Errors are logged. */
    public void tearDown(BackendSession s) {
        for (Buffer b : buffers) {
            b.unmapFrom(s);
        }
    }

    /**
     * Maps every open buffer into a new session and tells the listeners of those whose IOVA changed.
     * A refused buffer is logged and stays unmapped ({@link DmaBuffer#iova()} then throws).
     *
     * @throws DeviceUnavailableException if the backend is gone (the bind fails)
     */
    public void restore(BackendSession s) {
        for (Buffer b : buffers) {
            long changedTo = b.restore(s);
            if (changedTo >= 0) {
                b.notifyIovaChange(changedTo);
            }
        }
    }

    /** The device is going away: closes every buffer a driver left behind. */
    public void closeAll() {
        for (Buffer b : buffers) {
            b.close();
        }
    }

    /** @return the number of open buffers */
    public int size() {
        return buffers.size();
    }

    private final class Buffer implements DmaBuffer {
        private final DmaMemoryBlock block;
        private final long requestedIova;
        private final long maxIova;
        private final List<LongConsumer> listeners = new CopyOnWriteArrayList<>();
        private volatile long iova = -1;
        private volatile String unmappedReason = "the device is not bound";
        // Guarded by this.
        private BackendSession mappedIn;
        private long lastIova = -1;
        private boolean closed;

        Buffer(DmaMemoryBlock block, long requestedIova, long maxIova) {
            this.block = block;
            this.requestedIova = requestedIova;
            this.maxIova = maxIova;
        }

        @Override
        public long size() {
            return block.size();
        }

        @Override
        public long iova() {
            long i = iova;
            if (i < 0) {
                throw new DeviceUnavailableException("DMA buffer " + this + " is not mapped: " + unmappedReason);
            }
            return i;
        }

        @Override
        public ByteBuffer memory() {
            return block.memory();
        }

        @Override
        public void onIovaChange(LongConsumer listener) {
            listeners.add(listener);
        }

        void notifyIovaChange(long newIova) {
            for (LongConsumer l : listeners) {
                try {
                    l.accept(newIova);
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "IOVA listener of " + this + " threw " + e, e);
                }
            }
        }

        /** Maps into {@code s}; caller holds this and is in the gate or is the binder. */
        void mapInto(BackendSession s) {
            boolean backendChooses = s.has(BackendCapability.DMA_IOVA_CHOSEN_BY_BACKEND);
            long hint = backendChooses && lastIova >= 0 ? lastIova : requestedIova;
            long got = s.ops().dmaMap(block, hint, true, true);
            if (!fits(got)) {
                try {
                    s.ops().dmaUnmap(got, block.size());
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "backend " + s.backendId() + " failed to unmap " + this + ": " + e.getMessage());
                }
                throw new BackendException("DMA_MAP", 0, null, "backend " + s.backendId() + " mapped " + this
                        + " at IOVA 0x" + Long.toHexString(got) + ", which the device cannot reach (limit 0x"
                        + Long.toHexString(maxIova) + ", buffer size 0x" + Long.toHexString(block.size()) + ")");
            }
            mappedIn = s;
            lastIova = got;
            iova = got;
        }

        private boolean fits(long got) {
            if (got < 0 || (got & (MappedMemory.pageSize() - 1)) != 0) {
                return false;
            }
            return maxIova < 0 || (got <= maxIova && block.size() - 1 <= maxIova - got);
        }

        /** @return the new IOVA if it differs from the last one, else -1 */
        synchronized long restore(BackendSession s) {
            if (closed || mappedIn != null) {
                return -1;
            }
            long before = lastIova;
            try {
                mapInto(s);
            } catch (DeviceUnavailableException e) {
                throw e;
            } catch (RuntimeException e) {
                unmappedReason = "backend " + s.backendId() + " refused to map it: " + e.getMessage();
                LOG.log(Level.WARNING, "cannot map " + this + " again on backend " + s.backendId() + ": "
                        + e.getMessage());
                return -1;
            }
            return before >= 0 && before != lastIova ? lastIova : -1;
        }

        synchronized void unmapFrom(BackendSession s) {
            if (mappedIn != s) {
                return;
            }
            unmapLocked(s);
            unmappedReason = "the device is not bound (backend " + s.backendId() + " left)";
            if (closed) {
                release();
            }
        }

        private void unmapLocked(BackendSession s) {
            mappedIn = null;
            iova = -1;
            try {
                s.ops().dmaUnmap(lastIova, block.size());
            } catch (DeviceUnavailableException e) {
                s.lost(e);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "backend " + s.backendId() + " failed to unmap " + this + ": " + e.getMessage());
            }
        }

        @Override
        public void close() {
            BackendSession s;
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
                unmappedReason = "it was closed";
                s = mappedIn;
            }
            if (s != null && s.enter()) {
                try {
                    synchronized (this) {
                        if (mappedIn == s) {
                            unmapLocked(s);
                        }
                    }
                } finally {
                    s.exit();
                }
            }
            synchronized (this) {
                if (mappedIn == null) {
                    release();
                } // else the binder is tearing the session down and releases the buffer there
            }
        }

        /** Frees memory and IOVA; caller holds this, the buffer is closed and unmapped. */
        private void release() {
            block.free();
            iovas.release(requestedIova);
            buffers.remove(this);
        }

        @Override
        public String toString() {
            return "0x" + Long.toHexString(block.size()) + " bytes of device " + device.deviceName();
        }
    }
}
