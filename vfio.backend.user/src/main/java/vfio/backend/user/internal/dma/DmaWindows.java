package vfio.backend.user.internal.dma;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import vfio.api.backend.DmaMemory;
import vfio.api.device.BackendException;
import vfio.backend.user.internal.transport.ServerCommandHandler;
import vfio.posix.Errno;
import vfio.user.protocol.Command;
import vfio.user.protocol.DmaAccess;
import vfio.user.protocol.Header;

/**
 * The client memory this client has mapped for the device's DMA, and the server's way into it: the
 * {@code DMA_READ} and {@code DMA_WRITE} commands a server sends when it did not get (or does not
 * use) a file descriptor for the memory.
 *
 * <p>Every access is checked before any memory is touched: the whole range {@code address ..
 * address+count} must lie inside one window, and the window must allow the direction ({@code
 * DMA_READ} needs device-readable memory, {@code DMA_WRITE} device-writable). Anything else is
 * refused with {@code EFAULT} (outside) or {@code EINVAL} (malformed), and the memory is left alone.
 *
 * <p><b>Threading:</b> windows are added and removed by caller threads while the connection's reader
 * serves commands; a removal waits for a copy in progress, so after {@link #remove} returns the
 * memory is never touched again. <b>Ownership:</b> the memory belongs to the core; this class only
 * keeps views of it.
 */
public final class DmaWindows implements ServerCommandHandler {
    private static final System.Logger LOG = System.getLogger(DmaWindows.class.getName());

    /** One mapped range of client memory. */
    private record Window(long iova, long size, boolean deviceReads, boolean deviceWrites, ByteBuffer memory) {
        long end() {
            return iova + size;
        }
    }

    private final TreeMap<Long, Window> windows = new TreeMap<>();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final int maxTransfer;
    private final String device;

    /**
     * @param maxTransfer the largest {@code count} accepted in one command (the max_data_xfer_size
     *                    this client announced)
     * @param device      the device's name, for log messages
     */
    public DmaWindows(int maxTransfer, String device) {
        this.maxTransfer = maxTransfer;
        this.device = device;
    }

    /**
     * Adds a window at {@code iova}.
     *
     * @throws IllegalArgumentException if the range is empty or wraps around
     * @throws BackendException         ({@code EEXIST}) if it overlaps an existing window
     */
    public void add(long iova, DmaMemory memory, boolean deviceReads, boolean deviceWrites) {
        long size = memory.size();
        if (size <= 0 || iova < 0 || iova + size < iova) {
            throw new IllegalArgumentException("DMA window 0x" + Long.toHexString(iova) + "+0x" + Long.toHexString(size)
                    + " is empty or wraps around");
        }
        // A view of more than 2 GiB does not exist; such windows are still mapped (the server may use
        // the fd), but DMA_READ/DMA_WRITE to them are refused.
        ByteBuffer view = size <= Integer.MAX_VALUE ? memory.memory().order(ByteOrder.LITTLE_ENDIAN) : null;
        lock.writeLock().lock();
        try {
            Map.Entry<Long, Window> below = windows.floorEntry(iova);
            Map.Entry<Long, Window> above = windows.ceilingEntry(iova);
            if ((below != null && below.getValue().end() > iova) || (above != null && above.getKey() < iova + size)) {
                Window w = below != null && below.getValue().end() > iova ? below.getValue() : above.getValue();
                throw new BackendException(Command.DMA_MAP.name(), Errno.EEXIST, "EEXIST", "DMA range 0x"
                        + Long.toHexString(iova) + "+0x" + Long.toHexString(size) + " overlaps the mapped range 0x"
                        + Long.toHexString(w.iova()) + "+0x" + Long.toHexString(w.size()));
            }
            windows.put(iova, new Window(iova, size, deviceReads, deviceWrites, view));
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Removes the window that starts at {@code iova} and has exactly {@code size} bytes; waits until
     * no command is copying to or from it.
     *
     * @throws IllegalArgumentException if there is no such window
     */
    public void remove(long iova, long size) {
        lock.writeLock().lock();
        try {
            Window w = windows.get(iova);
            if (w == null || w.size() != size) {
                throw new IllegalArgumentException("no DMA mapping 0x" + Long.toHexString(iova) + "+0x"
                        + Long.toHexString(size) + " to unmap" + (w == null ? "" : " (the mapping there has 0x"
                                + Long.toHexString(w.size()) + " bytes)"));
            }
            windows.remove(iova);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** @return whether a window starts at {@code iova} with exactly {@code size} bytes */
    public boolean contains(long iova, long size) {
        lock.readLock().lock();
        try {
            Window w = windows.get(iova);
            return w != null && w.size() == size;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** @return the number of windows */
    public int count() {
        lock.readLock().lock();
        try {
            return windows.size();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Forgets every window (the connection is gone); waits for a copy in progress. */
    public void clear() {
        lock.writeLock().lock();
        try {
            windows.clear();
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public Answer handle(Header header, ByteBuffer body) {
        Command c = header.commandOrNull();
        if (c == Command.DMA_READ) {
            return read(body);
        }
        if (c == Command.DMA_WRITE) {
            return write(body);
        }
        LOG.log(Level.WARNING, "device {0}: the server sent {1}, which a server may not send; refused", device, header);
        return Answer.error(Errno.EINVAL);
    }

    private Answer read(ByteBuffer body) {
        if (body.remaining() != DmaAccess.SIZE) {
            return refuse(Errno.EINVAL, "DMA_READ with a " + body.remaining() + "-byte body (16 expected)");
        }
        long address = body.getLong(0);
        long count = body.getLong(8);
        if (count < 0 || count > maxTransfer) {
            return refuse(Errno.EINVAL, "DMA_READ of " + Long.toUnsignedString(count) + " bytes (limit " + maxTransfer + ")");
        }
        ByteBuffer reply;
        lock.readLock().lock();
        try {
            Window w = find(address, count);
            if (w == null || !w.deviceReads()) {
                return refuse(Errno.EFAULT, "DMA_READ of 0x" + Long.toHexString(address) + "+0x"
                        + Long.toHexString(count)
                        + (w == null ? " is not inside one mapped range" : " from memory the device may not read"));
            }
            reply = ByteBuffer.allocate(DmaAccess.SIZE + (int) count).order(ByteOrder.LITTLE_ENDIAN);
            new DmaAccess(address, count).encode(reply);
            reply.put(DmaAccess.SIZE, w.memory(), (int) (address - w.iova()), (int) count);
        } finally {
            lock.readLock().unlock();
        }
        return Answer.ok(reply.position(0));
    }

    private Answer write(ByteBuffer body) {
        if (body.remaining() < DmaAccess.SIZE) {
            return refuse(Errno.EINVAL, "DMA_WRITE with a " + body.remaining() + "-byte body (at least 16 expected)");
        }
        long address = body.getLong(0);
        long count = body.getLong(8);
        if (count < 0 || count > maxTransfer || count != body.remaining() - DmaAccess.SIZE) {
            return refuse(Errno.EINVAL, "DMA_WRITE announcing " + Long.toUnsignedString(count) + " bytes but carrying "
                    + (body.remaining() - DmaAccess.SIZE) + " (limit " + maxTransfer + ")");
        }
        lock.readLock().lock();
        try {
            Window w = find(address, count);
            if (w == null || !w.deviceWrites()) {
                return refuse(Errno.EFAULT, "DMA_WRITE of 0x" + Long.toHexString(address) + "+0x" + Long.toHexString(count)
                        + (w == null ? " is not inside one mapped range" : " to memory the device may not write"));
            }
            w.memory().put((int) (address - w.iova()), body, DmaAccess.SIZE, (int) count);
        } finally {
            lock.readLock().unlock();
        }
        ByteBuffer reply = ByteBuffer.allocate(DmaAccess.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        new DmaAccess(address, count).encode(reply);
        return Answer.ok(reply.position(0));
    }

    /** @return the window holding all of {@code address .. address+count}, or null; caller holds the lock */
    private Window find(long address, long count) {
        if (address < 0) {
            return null;
        }
        Map.Entry<Long, Window> e = windows.floorEntry(address);
        if (e == null) {
            return null;
        }
        Window w = e.getValue();
        long offset = address - w.iova();
        // offset >= 0 here; compare against the room left so nothing can overflow.
        if (offset >= w.size() || count > w.size() - offset || w.memory() == null) {
            return null;
        }
        return w;
    }

    private Answer refuse(int errno, String what) {
        LOG.log(Level.WARNING, "device {0}: refused the server''s {1} ({2})", device, what, Errno.name(errno));
        return Answer.error(errno);
    }
}
