package vfio.user.server;

import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Device access to client memory by DMA address: the ranges the client announced with DMA_MAP.
 * Where the client passed a file descriptor, the server copies through its own mapping of that
 * memory; elsewhere it sends DMA_READ/DMA_WRITE messages to the client (split to the negotiated
 * max_data_xfer_size) and waits for the replies. A transfer may span several adjacent mappings.
 *
 * <p>As on a real PCI bus, nothing moves while the client has not enabled bus mastering (bit 2 of
 * the PCI COMMAND register).
 *
 * <p>Threading: any thread, also a {@link RegionHandler} on the connection thread. A transfer
 * blocks until done or until the server's DMA timeout. A DMA_UNMAP from the client waits for
 * transfers through the mapping that are in progress.
 */
@ProviderType
public interface Dma {
    /**
     * Copies {@code dst.remaining()} bytes from client memory at {@code address} into {@code dst},
     * advancing its position.
     *
     * @throws DmaException if the range is not mapped readable, bus mastering is off, no client is
     *                      connected, or the client failed the transfer; {@code dst} may then hold
     *                      part of the data
     */
    void read(long address, ByteBuffer dst) throws DmaException;

    /**
     * Copies {@code src.remaining()} bytes from {@code src} into client memory at {@code address},
     * advancing its position.
     *
     * @throws DmaException as for {@link #read}, for the write permission
     */
    void write(long address, ByteBuffer src) throws DmaException;

    /**
     * @param write whether the range must be writable (else readable)
     * @return whether every byte of {@code [address, address + length)} is currently DMA-mapped with
     *         that permission
     */
    boolean isMapped(long address, long length, boolean write);
}
