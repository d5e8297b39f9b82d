package vfio.api.backend;

import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Memory the core allocated for DMA and hands to {@link DeviceIoOps#dmaMap}. Owned by the core; the
 * backend must not free, unmap or close anything of it, and must not use it after {@link
 * DeviceIoOps#dmaUnmap}.
 */
@ConsumerType
public interface DmaMemory {
    /** @return the process virtual address of the first byte, page aligned */
    long address();

    /** @return the size in bytes, a multiple of the page size */
    long size();

    /**
     * @return a file descriptor whose pages are this memory (a memfd on Linux), for backends that
     *         share it with another process; -1 if the memory has none
     */
    int fd();

    /** @return the offset of this memory within {@link #fd()}, in bytes */
    long fdOffset();

    /** @return a new view of the whole memory (position 0, limit {@link #size()}) */
    ByteBuffer memory();
}
