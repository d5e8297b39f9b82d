package vfio.user.server;

/**
 * Register-level access to a callback-backed BAR (or to the trapped part of a shared-memory BAR).
 *
 * <p>The server splits every client access into naturally aligned accesses of 1, 2, 4 or 8 bytes
 * (at most 4 for I/O BARs), so a handler sees exactly what a CPU would issue for those sizes. Values
 * are little-endian, in the low {@code size * 8} bits.
 *
 * <p>Threading: called on the server's connection thread, one access at a time, in the order the
 * client sent them. A handler may take as long as the device needs, but the client waits for it
 * (QEMU gives up after 5 s). A handler may use {@link PciDevice#dma()} and {@link
 * PciDevice#interrupts()}. A {@link RuntimeException} from a handler is logged and the client gets
 * an {@code EIO} error reply; the server keeps running.
 */
public interface RegionHandler {
    /**
     * @param offset byte offset inside the BAR, aligned to {@code size}
     * @param size   1, 2, 4 or 8
     * @return the value read (bits above {@code size * 8} are ignored)
     */
    long read(long offset, int size);

    /**
     * @param offset byte offset inside the BAR, aligned to {@code size}
     * @param size   1, 2, 4 or 8
     * @param value  the value written, zero-extended
     */
    void write(long offset, int size, long value);
}
