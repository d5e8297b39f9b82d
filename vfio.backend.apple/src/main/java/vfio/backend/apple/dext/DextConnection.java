package vfio.backend.apple.dext;

/**
 * One user-client connection ({@code io_connect_t}) to a VFIOUserPCIDriver dext instance: one method
 * per selector the backend uses, plus the BAR mapping calls. AllocateDMABuffer and FreeDMABuffer
 * (selectors 3 and 4) are not offered: the backend registers memory the core allocated instead.
 *
 * <p><b>Threading:</b> every method may be called from several threads at once, except that only one
 * thread at a time may be inside {@link #waitInterrupt}. {@link #close()} must not race with other
 * calls, except {@link #waitInterrupt}, which it makes return.
 *
 * <p><b>Errors:</b> a call the dext or IOKit refuses throws {@link DextException} with the {@code
 * kern_return_t}; nothing is retried here.
 */
public interface DextConnection extends AutoCloseable {
    /** Number of interrupt vectors the pending bitmap and the enable mask cover. */
    int VECTORS = 256;

    /** GetIdentity (0): the function this dext instance serves. */
    DextIdentity identity() throws DextException;

    /**
     * Claim (1). The first claim of a function opens the PCI device and sets Memory Space and Bus
     * Master; later claims only count references. Closing the connection drops its claim.
     */
    void claim() throws DextException;

    /** Terminate (2): asks the dext instance to end its session. Not used by the backend. */
    void terminate() throws DextException;

    /**
     * RegisterDMARegion (5): makes {@code size} bytes at {@code clientAddress} reachable by the device.
     *
     * @param key           an opaque key that names the registration (unique per connection)
     * @param clientAddress page-aligned process virtual address
     * @param size          bytes, a multiple of the page size
     * @return the platform-chosen bus address and the segment layout
     */
    DmaRegistration registerDmaRegion(long key, long clientAddress, long size) throws DextException;

    /** UnregisterDMARegion (6): removes the registration made under {@code key}. */
    void unregisterDmaRegion(long key) throws DextException;

    /** ProbeDMARegion (7): reads the 8-byte word at {@code offset} of a registration through the dext's mapping. */
    long probeDmaRegion(long key, long offset) throws DextException;

    /**
     * ConfigRead (8).
     *
     * @param offset config space offset 0..4095
     * @param width  1, 2 or 4
     * @return the value, zero-extended
     */
    long configRead(int offset, int width) throws DextException;

    /** ConfigWrite (9) of the low {@code width} (1, 2, 4) bytes of {@code value}. */
    void configWrite(int offset, int width, long value) throws DextException;

    /** GetBARInfo (10) for BAR {@code bar} (0-5). */
    BarInfo barInfo(int bar) throws DextException;

    /**
     * MMIORead (11) through the dext.
     *
     * @param memoryIndex the BAR's memory index from {@link #barInfo}
     * @param width       1, 2, 4 or 8
     */
    long mmioRead(int memoryIndex, long offset, int width) throws DextException;

    /** MMIOWrite (12) through the dext. */
    void mmioWrite(int memoryIndex, long offset, int width, long value) throws DextException;

    /**
     * SetupInterrupts (13): allocates the function's vectors in the dext (MSI-X if the device has it,
     * else MSI).
     *
     * @return the number of vectors, at most {@link #VECTORS}
     */
    int setupInterrupts() throws DextException;

    /**
     * CheckInterrupt (14): reads and atomically clears the pending bitmap.
     *
     * @return four 64-bit words; bit {@code v % 64} of word {@code v / 64} is vector {@code v}
     */
    long[] checkInterrupt() throws DextException;

    /**
     * WaitInterrupt (15): arms the dext's one-shot wake-up and blocks until it completes, the timeout
     * passes or {@link #wakeWaiter()} is called. The dext completes it at once if bits are already
     * pending, and otherwise when an enabled vector fires. A wait that timed out stays armed until the
     * next call arms it again; its late completion then makes that next call return at once.
     *
     * @param timeoutMillis the longest wait, in milliseconds (positive)
     * @return true if a completion arrived, false on timeout or {@link #wakeWaiter()}
     * @throws DextException if arming failed or the connection is closed
     */
    boolean waitInterrupt(long timeoutMillis) throws DextException;

    /** Makes a thread blocked in {@link #waitInterrupt} return (false) now. Never blocks, never throws. */
    void wakeWaiter();

    /**
     * SetIRQMask (16): a vector's pending bit is set only while its enable bit is set.
     *
     * @param mask four 64-bit words, as {@link #checkInterrupt()} returns them
     */
    void setIrqMask(long[] mask) throws DextException;

    /** ResetDevice (17): function-level reset, falling back to a bus reset. */
    void resetDevice() throws DextException;

    /**
     * Maps a BAR ({@code IOConnectMapMemory64(connection, 1 + bar, mach_task_self(), ..., kIOMapAnywhere
     * [| kIOMapWriteCombineCache])}). The mapping belongs to this connection.
     *
     * @param writeCombining whether to map write-combining (prefetchable BARs)
     */
    BarMapping mapBar(int bar, boolean writeCombining) throws DextException;

    /** Unmaps a mapping made by {@link #mapBar} ({@code IOConnectUnmapMemory64}). */
    void unmapBar(BarMapping mapping) throws DextException;

    /**
     * Maps part of a BAR a second time, at a new address, for a caller that takes the new range over:
     * the new owner unmaps it itself (munmap), this connection keeps no record of it, and it stays
     * valid after {@link #unmapBar} and {@link #close()}.
     *
     * @param mapping a live mapping of this connection
     * @param offset  page-aligned offset within the BAR
     * @param size    bytes (rounded up to pages for the mapping)
     * @return the page-aligned address of the new range's first byte
     */
    long mapAlias(BarMapping mapping, long offset, long size) throws DextException;

    /**
     * Unmaps a range made by {@link #mapAlias} that was never handed over (rollback of a failed
     * multi-area map).
     */
    void unmapAlias(long address, long size) throws DextException;

    /** @return the page size of this process's address space in bytes */
    long pageSize();

    /**
     * Closes the connection ({@code IOServiceClose}); the dext drops this connection's claim. Mappings
     * made by {@link #mapBar} that are still live are released by the system. Idempotent, never throws.
     */
    @Override
    void close();
}
