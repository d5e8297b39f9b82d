package vfio.core.dma;

import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import vfio.api.backend.DmaMemory;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFdSeals;

/**
 * Page-rounded memory for DMA: a memfd mapped shared on Linux (so a vfio-user server can map the
 * same pages through {@link #fd()}), private anonymous memory elsewhere ({@link #fd()} = -1).
 *
 * <p><b>Lifetime:</b> every view handed out ({@link #memory()}) is a duplicate of one master buffer
 * and so keeps it reachable. {@link #free()} replaces the pages with inert anonymous memory (views
 * still in a driver's hands then read zeros and reach nothing) and closes the memfd; the range is
 * unmapped by a {@link Cleaner} only once the master and every view are unreachable, so no access
 * can ever fault.
 *
 * <p><b>Threading:</b> any thread; {@link #free()} once.
 */
public final class DmaMemoryBlock implements DmaMemory, AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vfio.core.dma");
    private static final Cleaner CLEANER = Cleaner.create(r -> {
        Thread t = new Thread(r, "vfio-dma-cleaner");
        t.setDaemon(true);
        return t;
    });

    private final Fd fd;
    private final MappedMemory mapping;
    private volatile ByteBuffer master;

    private DmaMemoryBlock(Fd fd, MappedMemory mapping) {
        this.fd = fd;
        this.mapping = mapping;
        ByteBuffer m = mapping.view();
        this.master = m;
        CLEANER.register(m, new Release(mapping));
    }

    /**
     * @param name shown in {@code /proc/PID/maps}
     * @param size bytes, at least 1; rounded up to the page size
     * @throws ErrnoException if the memory cannot be created or mapped
     */
    public static DmaMemoryBlock allocate(String name, long size) throws ErrnoException {
        long rounded = MappedMemory.roundUpToPage(size);
        if (!isLinux()) {
            return new DmaMemoryBlock(null, MappedMemory.anonymous(rounded));
        }
        // Sealed against resizing, so a vfio-user server may map it instead of copying through the socket.
        Fd fd = MemFdSeals.createSealed(name, rounded);
        try {
            return new DmaMemoryBlock(fd, MappedMemory.map(fd, 0, rounded, true));
        } catch (ErrnoException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static boolean isLinux() {
        return System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).startsWith("linux");
    }

    @Override
    public long address() {
        return mapping.address();
    }

    @Override
    public long size() {
        return mapping.size();
    }

    @Override
    public int fd() {
        return fd != null && fd.isOpen() ? fd.value() : -1;
    }

    @Override
    public long fdOffset() {
        return 0;
    }

    /**
     * @return a new little-endian view of the whole block
     * @throws IllegalStateException after {@link #free()}
     */
    @Override
    public ByteBuffer memory() {
        ByteBuffer m = master;
        if (m == null) {
            throw new IllegalStateException("DMA memory " + mapping + " was freed");
        }
        return m.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Makes the memory inert and closes the memfd; the address range is unmapped once no view is
     * reachable any more. Idempotent. Call only after the backend unmapped it for DMA.
     */
    public void free() {
        if (master == null) {
            return;
        }
        try {
            mapping.revoke();
        } catch (ErrnoException e) {
            LOG.log(Level.ERROR, "cannot revoke DMA memory " + mapping + ": " + e.getMessage()
                    + "; it stays mapped until the process exits");
        }
        master = null;
        if (fd != null) {
            fd.close();
        }
    }

    /** {@link #free()}, for try-with-resources. */
    @Override
    public void close() {
        free();
    }

    @Override
    public String toString() {
        return "DMA memory " + mapping + (fd != null ? " (" + fd + ")" : "");
    }

    /** Unmaps the range once the master buffer (and so every view) is unreachable. */
    private static final class Release implements Runnable {
        private final MappedMemory mapping;

        Release(MappedMemory mapping) {
            this.mapping = mapping;
        }

        @Override
        public void run() {
            // Unrevoked memory is unmapped too: it is unreachable from Java, and freeing it is the point.
            try {
                mapping.unmap();
            } catch (ErrnoException e) {
                LOG.log(Level.WARNING, "cannot unmap DMA memory " + mapping + ": " + e.getMessage());
            }
        }
    }
}
