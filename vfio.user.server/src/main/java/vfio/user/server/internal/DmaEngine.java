package vfio.user.server.internal;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFdSeals;
import vfio.user.protocol.DmaMap;
import vfio.user.server.Dma;
import vfio.user.server.DmaException;

/**
 * The client's DMA mappings and device access to them. Mappings that came with a file descriptor
 * are reached through it: mmapped and copied directly when the file is a memfd sealed against
 * shrinking ({@link MemFdSeals#F_SEAL_SHRINK}, as QEMU's memfd backend does), else with pread and
 * pwrite, because the client could shrink an unsealed file under a mapping and make the server
 * fault (SIGBUS, which the JVM reports asynchronously). Mappings without an fd go through the
 * connection's {@link DmaTransport} (DMA_READ/DMA_WRITE messages).
 *
 * <p>Threading: a read-write lock. Copies through mapped memory hold the read lock, so DMA_UNMAP
 * (write lock) waits for them and never unmaps memory under a running copy; message transfers
 * hold no lock (the connection thread may have to read their replies).
 */
public final class DmaEngine implements Dma {
    private static final System.Logger LOG = System.getLogger(DmaEngine.class.getName());

    /**
     * One DMA_MAP window. {@code fd} is null when the client passed none (DMA by message); {@code
     * memory} is set only for memfds sealed against shrinking (else DMA uses pread/pwrite at file
     * offset {@code delta}); with memory, {@code delta} is the offset of the window in the mapping.
     */
    private record Mapping(long address, long size, int flags, Fd fd, MappedMemory memory, ByteBuffer view,
            long delta) {
        long end() {
            return address + size;
        }
    }

    private static final int FD_CHUNK = 64 * 1024;

    private final ConfigSpace config;
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private final TreeMap<Long, Mapping> mappings = new TreeMap<>();
    private volatile DmaTransport transport;

    DmaEngine(ConfigSpace config) {
        this.config = config;
    }

    /** Connects (or, with null, disconnects) the message path of the current client. */
    void attach(DmaTransport transport) {
        this.transport = transport;
    }

    /** @return the number of mappings */
    int size() {
        lock.readLock().lock();
        try {
            return mappings.size();
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Adds a mapping; takes ownership of {@code fd} (closed on failure too).
     *
     * @param fd      the client memory to mmap, or null for message-based DMA
     * @param maxMaps the negotiated max_dma_maps
     * @throws Refused EEXIST on overlap, ENOSPC past {@code maxMaps}, EINVAL if the fd cannot back
     *                 the range
     */
    void map(DmaMap m, Fd fd, int maxMaps) throws Refused {
        boolean kept = false;
        try {
            lock.writeLock().lock();
            try {
                Map.Entry<Long, Mapping> below = mappings.floorEntry(m.address() + m.size() - 1);
                if (below != null && below.getValue().end() > m.address()) {
                    Mapping o = below.getValue();
                    throw new Refused(Errno.EEXIST, "DMA range 0x" + Long.toHexString(m.address()) + "+0x"
                            + Long.toHexString(m.size()) + " overlaps the mapping at 0x" + Long.toHexString(o.address)
                            + "+0x" + Long.toHexString(o.size));
                }
                if (mappings.size() >= maxMaps) {
                    throw new Refused(Errno.ENOSPC, "the client already has the " + maxMaps + " DMA mappings allowed");
                }
                Mapping mapping = fd == null ? new Mapping(m.address(), m.size(), m.flags(), null, null, null, 0)
                        : mmap(m, fd);
                mappings.put(m.address(), mapping);
                kept = true;
            } finally {
                lock.writeLock().unlock();
            }
        } finally {
            if (!kept && fd != null) {
                fd.close();
            }
        }
    }

    private static Mapping mmap(DmaMap m, Fd fd) throws Refused {
        long fileSize = FdChecks.regularFileSize(fd);
        if (m.offset() + m.size() > fileSize || m.offset() + m.size() < 0) {
            throw new Refused(Errno.EINVAL, "DMA_MAP of " + m.size() + " bytes at fd offset " + m.offset()
                    + " exceeds the " + fileSize + "-byte file passed with it");
        }
        try {
            if ((MemFdSeals.seals(fd) & MemFdSeals.F_SEAL_SHRINK) == 0) {
                // The client could shrink the file under a mapping (SIGBUS): go through pread/pwrite.
                return new Mapping(m.address(), m.size(), m.flags(), fd, null, null, m.offset());
            }
            if (m.size() > Integer.MAX_VALUE - MappedMemory.pageSize()) {
                throw new Refused(Errno.EINVAL, "a DMA mapping with an fd is limited to 2 GiB, got " + m.size() + " bytes");
            }
            long page = MappedMemory.pageSize();
            long start = m.offset() & -page; // mmap wants a page-aligned file offset
            long delta = m.offset() - start;
            MappedMemory mem = MappedMemory.map(fd, start, delta + m.size(), (m.flags() & DmaMap.FLAG_WRITE) != 0);
            return new Mapping(m.address(), m.size(), m.flags(), fd, mem, mem.view(), delta);
        } catch (ErrnoException e) {
            throw new Refused(e.errno(), "cannot map the client memory: " + e.getMessage());
        }
    }

    /**
     * Removes the mapping that matches exactly, after transfers through it have finished.
     *
     * @throws Refused ENOENT if no mapping has that address and size
     */
    void unmap(long address, long size) throws Refused {
        lock.writeLock().lock();
        try {
            Mapping m = mappings.get(address);
            if (m == null || m.size != size) {
                throw new Refused(Errno.ENOENT, "no DMA mapping is exactly 0x" + Long.toHexString(address) + "+0x"
                        + Long.toHexString(size));
            }
            mappings.remove(address);
            release(m);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Removes every mapping, after transfers through them have finished. */
    void unmapAll() {
        lock.writeLock().lock();
        try {
            List<Mapping> all = new ArrayList<>(mappings.values());
            mappings.clear();
            all.forEach(DmaEngine::release);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private static void release(Mapping m) {
        if (m.memory != null) {
            try {
                m.memory.unmap();
            } catch (ErrnoException e) {
                LOG.log(Level.WARNING, "munmap of DMA mapping 0x" + Long.toHexString(m.address) + " failed", e);
            }
        }
        if (m.fd != null) {
            m.fd.close();
        }
    }

    @Override
    public void read(long address, ByteBuffer dst) throws DmaException {
        transfer(address, dst, false);
    }

    @Override
    public void write(long address, ByteBuffer src) throws DmaException {
        transfer(address, src, true);
    }

    private void transfer(long address, ByteBuffer buf, boolean toClient) throws DmaException {
        String what = toClient ? "DMA write" : "DMA read";
        if (!config.busMaster()) {
            throw new DmaException(Errno.EIO, what + " at 0x" + Long.toHexString(address)
                    + " refused: bus mastering is disabled in the PCI COMMAND register");
        }
        if (address < 0 || address + buf.remaining() < address) {
            throw new DmaException(Errno.EFAULT, what + " at 0x" + Long.toUnsignedString(address, 16) + " of "
                    + buf.remaining() + " bytes wraps around the address space");
        }
        long at = address;
        while (buf.hasRemaining()) {
            int n;
            lock.readLock().lock();
            try {
                Mapping m = find(at);
                int need = toClient ? DmaMap.FLAG_WRITE : DmaMap.FLAG_READ;
                if (m == null || (m.flags & need) == 0) {
                    throw new DmaException(Errno.EFAULT, what + " of " + buf.remaining() + " bytes at 0x"
                            + Long.toHexString(at) + (m == null ? " is outside every DMA mapping of the client"
                                    : " is not allowed by the client's mapping flags " + m.flags));
                }
                n = (int) Math.min(buf.remaining(), m.end() - at);
                if (m.fd != null) {
                    copy(m, at, buf, n, toClient);
                    at += n;
                    continue;
                }
            } finally {
                lock.readLock().unlock();
            }
            DmaTransport t = transport;
            if (t == null) {
                throw new DmaException(Errno.ENOTCONN, what + " at 0x" + Long.toHexString(at) + ": no client is connected");
            }
            ByteBuffer part = buf.duplicate().limit(buf.position() + n);
            if (toClient) {
                t.write(at, part);
            } else {
                t.read(at, part);
            }
            buf.position(buf.position() + n);
            at += n;
        }
    }

    private static void copy(Mapping m, long at, ByteBuffer buf, int n, boolean toClient) throws DmaException {
        if (m.memory == null) {
            transferThroughFd(m, at, buf, n, toClient);
            return;
        }
        int off = (int) (m.delta + at - m.address);
        ByteBuffer mem = m.view.duplicate().position(off).limit(off + n);
        if (toClient) {
            mem.put(buf.duplicate().limit(buf.position() + n));
            buf.position(buf.position() + n);
        } else {
            buf.put(mem);
        }
    }

    /** pread/pwrite at the file offset: a file the client shrank gives a short count, not SIGBUS. */
    private static void transferThroughFd(Mapping m, long at, ByteBuffer buf, int n, boolean toClient)
            throws DmaException {
        ByteBuffer part = buf.duplicate().limit(buf.position() + n);
        long fileOffset = m.delta + at - m.address;
        try {
            while (part.hasRemaining()) {
                // At most 64 KiB per call: vfio.posix then copies heap buffers through its per-thread
                // scratch memory instead of a temporary one that is not kept reachable during the call.
                ByteBuffer chunk = part.duplicate().limit(part.position() + Math.min(part.remaining(), FD_CHUNK));
                int done = toClient ? m.fd.pwrite(chunk, fileOffset) : m.fd.pread(chunk, fileOffset);
                part.position(part.position() + Math.max(done, 0));
                if (done <= 0) {
                    throw new DmaException(Errno.EFAULT, "client memory at 0x" + Long.toHexString(at) + " is gone: the"
                            + " file behind the DMA mapping ends before offset " + fileOffset + " (truncated by the client)");
                }
                fileOffset += done;
            }
        } catch (ErrnoException e) {
            throw new DmaException(e.errno(), "DMA through the client's file failed: " + e.getMessage());
        }
        buf.position(part.position());
    }

    private Mapping find(long address) {
        Map.Entry<Long, Mapping> e = mappings.floorEntry(address);
        return e != null && address < e.getValue().end() ? e.getValue() : null;
    }

    @Override
    public boolean isMapped(long address, long length, boolean write) {
        if (address < 0 || length < 0 || address + length < address) {
            return false;
        }
        int need = write ? DmaMap.FLAG_WRITE : DmaMap.FLAG_READ;
        lock.readLock().lock();
        try {
            long at = address;
            long end = address + length;
            while (at < end) {
                Mapping m = find(at);
                if (m == null || (m.flags & need) == 0) {
                    return false;
                }
                at = m.end();
            }
            return true;
        } finally {
            lock.readLock().unlock();
        }
    }
}
