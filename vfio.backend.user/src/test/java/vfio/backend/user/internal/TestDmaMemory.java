package vfio.backend.user.internal;

import java.nio.ByteBuffer;
import vfio.api.backend.DmaMemory;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFd;

/** memfd-backed DMA memory, as the core allocates it; the test owns and closes it. */
public final class TestDmaMemory implements DmaMemory, AutoCloseable {
    private final Fd fd;
    private final MappedMemory mapping;
    private final boolean shareFd;

    private TestDmaMemory(Fd fd, MappedMemory mapping, boolean shareFd) {
        this.fd = fd;
        this.mapping = mapping;
        this.shareFd = shareFd;
    }

    /** @param shareFd whether {@link #fd()} offers the memfd (else -1: the server must use DMA_READ/WRITE) */
    public static TestDmaMemory create(long size, boolean shareFd) throws Exception {
        Fd fd = MemFd.create("test-dma", size);
        return new TestDmaMemory(fd, MappedMemory.map(fd, 0, size, true), shareFd);
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
        return shareFd ? fd.value() : -1;
    }

    @Override
    public long fdOffset() {
        return 0;
    }

    @Override
    public ByteBuffer memory() {
        return mapping.view();
    }

    @Override
    public void close() throws Exception {
        mapping.unmap();
        fd.close();
    }
}
