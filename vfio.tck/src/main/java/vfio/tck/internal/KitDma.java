package vfio.tck.internal;

import java.nio.ByteBuffer;
import vfio.api.backend.DmaMemory;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFd;

/**
 * DMA memory as the core hands it out: a memfd mapped shared, so backends that share memory with a
 * server ({@code DMA_NEEDS_FD}) get a descriptor. {@link #free()} replaces the pages with inert
 * anonymous memory (a backend still holding a view then writes nowhere) and closes the memfd; only
 * {@link #close()}, at the end of the check, unmaps the range. Owned by the {@link Probe} that
 * allocated it.
 */
final class KitDma implements DmaMemory, AutoCloseable {
    private final Fd fd;
    private final MappedMemory mapping;
    private boolean freed;
    private boolean unmapped;

    private KitDma(Fd fd, MappedMemory mapping) {
        this.fd = fd;
        this.mapping = mapping;
    }

    /** @param size a multiple of the page size */
    static KitDma allocate(long size) throws ErrnoException {
        Fd fd = MemFd.create("vfio-tck-dma", size);
        try {
            return new KitDma(fd, MappedMemory.map(fd, 0, size, true));
        } catch (ErrnoException | RuntimeException e) {
            fd.close();
            throw e;
        }
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
        return fd.isOpen() ? fd.value() : -1;
    }

    @Override
    public long fdOffset() {
        return 0;
    }

    @Override
    public ByteBuffer memory() {
        if (freed) {
            throw new IllegalStateException("the kit's DMA memory " + mapping + " was freed");
        }
        return mapping.view();
    }

    /** Makes the memory inert and closes the memfd; the range stays mapped. Idempotent. */
    void free() {
        if (freed) {
            return;
        }
        freed = true;
        fd.close();
        try {
            mapping.revoke();
        } catch (ErrnoException e) {
            throw new Problem("cannot revoke the kit's DMA memory " + mapping + ": " + e.getMessage());
        }
    }

    /** Frees the memory and unmaps the range. Idempotent. */
    @Override
    public void close() {
        free();
        if (!unmapped) {
            unmapped = true;
            try {
                mapping.unmap();
            } catch (ErrnoException e) {
                throw new Problem("cannot unmap the kit's DMA memory " + mapping + ": " + e.getMessage());
            }
        }
    }

    @Override
    public String toString() {
        return "kit DMA memory " + mapping;
    }
}
