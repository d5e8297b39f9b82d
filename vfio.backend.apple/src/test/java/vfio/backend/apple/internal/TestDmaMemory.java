package vfio.backend.apple.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import vfio.api.backend.DmaMemory;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFd;

/** DMA memory as the core would allocate it: a shared memfd mapping. */
final class TestDmaMemory implements DmaMemory, AutoCloseable {
    private final Fd fd;
    private final MappedMemory memory;

    TestDmaMemory(long size) throws ErrnoException {
        fd = MemFd.create("test-dma", size);
        memory = MappedMemory.map(fd, 0, size, true);
    }

    @Override
    public long address() {
        return memory.address();
    }

    @Override
    public long size() {
        return memory.size();
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
        return memory.view().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() throws ErrnoException {
        memory.unmap();
        fd.close();
    }
}
