package vfio.user.server.internal;

import java.nio.ByteBuffer;
import vfio.user.server.DmaException;

/** DMA through DMA_READ/DMA_WRITE messages to the connected client (for mappings without an fd). */
interface DmaTransport {
    /** Fills {@code dst.remaining()} bytes from client memory at {@code address}. */
    void read(long address, ByteBuffer dst) throws DmaException;

    /** Writes {@code src.remaining()} bytes to client memory at {@code address}. */
    void write(long address, ByteBuffer src) throws DmaException;
}
