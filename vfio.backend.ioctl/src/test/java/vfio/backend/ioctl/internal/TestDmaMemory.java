package vfio.backend.ioctl.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import vfio.api.backend.DmaMemory;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFd;

/** DMA memory as the core makes it: a memfd mapped shared. Owned by the test, closed by it. */
final class TestDmaMemory implements DmaMemory, AutoCloseable {
    private final Fd fd;
    private final MappedMemory mapping;

    TestDmaMemory(long size) throws ErrnoException {
        long rounded = MappedMemory.roundUpToPage(size);
        this.fd = MemFd.create("vfio-test-dma", rounded);
        this.mapping = MappedMemory.map(fd, 0, rounded, true);
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
        return fd.value();
    }

    @Override
    public long fdOffset() {
        return 0;
    }

    @Override
    public ByteBuffer memory() {
        return mapping.view().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() throws ErrnoException {
        mapping.unmap();
        fd.close();
    }
}
