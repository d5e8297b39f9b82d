package vfio.api.device;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * One region of a {@link Device}: a BAR, configuration space, the ROM, ... Accesses go straight to
 * memory where the backend mapped the region (the fast path) and through the backend's region read
 * and write elsewhere (the slow path); the two are indistinguishable to the caller except in speed.
 *
 * <p><b>Semantics:</b> every access is performed exactly once, in program order with every other
 * access of this device from the same thread, with the given width; values are little-endian. The
 * JIT does not merge, split, elide or reorder them. Accesses of 1 and 2 bytes return the value
 * zero-extended to {@code int}. Unaligned accesses and accesses that straddle a mapped and an
 * unmapped part take the slow path, where the backend decides (the Linux kernel splits them).
 *
 * <p><b>Errors:</b> an access outside {@code [0, size)} throws {@link OutOfRangeException} before
 * anything is touched; an access while the device is unbound waits up to the access timeout and then
 * throws {@link DeviceUnavailableException}; a backend failure throws {@link BackendException}.
 *
 * <p><b>Threading:</b> any thread, concurrently. The object stays valid across rebinds.
 */
@ProviderType
public interface Region {
    /** @return the region index */
    int index();

    /** @return the PCI name ({@code bar0}, {@code config}, ...) or {@code regionN} */
    String name();

    /** @return the size in bytes (0 for a region the device does not implement) */
    long size();

    /** @return the region info as the current (or last) backend reported it */
    RegionInfo info();

    /** @return the byte ranges that are currently mapped (the fast path), sorted; empty if none */
    List<RegionCapability.SparseArea> mappedRanges();

    /**
     * Enables or disables the mapped fast path of this region at runtime. While disabled every
     * access goes through the backend's region read and write; the mapping itself is kept.
     *
     * @param enabled whether mapped areas may be used
     */
    void setMappingEnabled(boolean enabled);

    /**
     * Chooses whether slow-path writes are posted: sent without waiting for the backend to confirm
     * them (PCI memory writes are posted anyway). A failed posted write is logged, not thrown.
     * Default: not posted.
     *
     * @param posted whether writes are posted
     */
    void setPostedWrites(boolean posted);

    /** @return an unsigned byte read at {@code offset} */
    int read8(long offset);

    /** @return an unsigned 16-bit little-endian value read at {@code offset} */
    int read16(long offset);

    /** @return a 32-bit little-endian value read at {@code offset} */
    int read32(long offset);

    /** @return a 64-bit little-endian value read at {@code offset} */
    long read64(long offset);

    /** Writes the low byte of {@code value} at {@code offset}. */
    void write8(long offset, int value);

    /** Writes the low 16 bits of {@code value}, little-endian, at {@code offset}. */
    void write16(long offset, int value);

    /** Writes {@code value}, little-endian, at {@code offset}. */
    void write32(long offset, int value);

    /** Writes {@code value}, little-endian, at {@code offset}. */
    void write64(long offset, long value);

    /**
     * Reads {@code length} bytes starting at {@code offset} into {@code dst[dstOffset..]}. Bytes are
     * copied in address order; the widths used are the backend's (bulk transfers are for memory-like
     * regions, not for registers with side effects).
     *
     * @throws IndexOutOfBoundsException if the destination range is outside {@code dst}
     */
    void read(long offset, byte[] dst, int dstOffset, int length);

    /**
     * Writes {@code src[srcOffset..srcOffset+length)} starting at {@code offset}.
     *
     * @throws IndexOutOfBoundsException if the source range is outside {@code src}
     */
    void write(long offset, byte[] src, int srcOffset, int length);
}
