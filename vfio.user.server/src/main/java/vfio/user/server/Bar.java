package vfio.user.server;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import vfio.api.device.RegionCapability.SparseArea;

/**
 * The definition of one PCI base address register and the region behind it. Immutable.
 *
 * <ul>
 * <li>{@link #mmio}/{@link #io}: every access goes through a {@link RegionHandler} (registers with
 * side effects).
 * <li>{@link #sharedMemory(long)}: memory the server allocates as a memfd and offers to the client
 * for mmap; device code reads and writes it through {@link PciDevice#sharedMemory(int)}. With
 * {@link #sharedMemory(long, List, RegionHandler) sparse areas}, only those areas are offered for
 * mmap and client accesses elsewhere go to a handler.
 * </ul>
 *
 * <p>Sizes are powers of two: at least 16 bytes for callback memory BARs, at least one page for
 * shared memory, 4 to 256 bytes for I/O BARs. A 64-bit BAR ({@link #as64Bit()}) occupies its index
 * and the next one.
 */
public final class Bar {
    /** The kind of address space the BAR decodes. */
    public enum Type {
        /** 32-bit memory space. */
        MEMORY32,
        /** 64-bit memory space (uses two BAR registers). */
        MEMORY64,
        /** I/O port space. */
        IO
    }

    /** Largest BAR this library serves (the JVM views shared memory as one buffer). */
    public static final long MAX_SIZE = 1L << 30;

    private final long size;
    private final Type type;
    private final boolean prefetchable;
    private final RegionHandler handler;
    private final boolean shared;
    private final List<SparseArea> mmapAreas;

    private Bar(long size, Type type, boolean prefetchable, RegionHandler handler, boolean shared,
            List<SparseArea> mmapAreas) {
        this.size = size;
        this.type = type;
        this.prefetchable = prefetchable;
        this.handler = handler;
        this.shared = shared;
        this.mmapAreas = mmapAreas;
    }

    /**
     * A 32-bit memory BAR whose accesses all go to {@code handler}.
     *
     * @param size power of two, 16 bytes to {@link #MAX_SIZE}
     */
    public static Bar mmio(long size, RegionHandler handler) {
        checkSize(size, 16, "memory BAR");
        return new Bar(size, Type.MEMORY32, false, Objects.requireNonNull(handler, "handler"), false, List.of());
    }

    /**
     * An I/O port BAR whose accesses all go to {@code handler} (at most 4 bytes at a time).
     *
     * @param size power of two, 4 to 256 bytes
     */
    public static Bar io(long size, RegionHandler handler) {
        checkSize(size, 4, "I/O BAR");
        if (size > 256) {
            throw new IllegalArgumentException("I/O BAR size " + size + " exceeds 256 bytes");
        }
        return new Bar(size, Type.IO, false, Objects.requireNonNull(handler, "handler"), false, List.of());
    }

    /**
     * A 32-bit memory BAR backed entirely by shared memory the client may map.
     *
     * @param size power of two, one page to {@link #MAX_SIZE}
     */
    public static Bar sharedMemory(long size) {
        checkSize(size, 4096, "shared-memory BAR");
        return new Bar(size, Type.MEMORY32, false, null, true, List.of());
    }

    /**
     * A 32-bit memory BAR backed by shared memory of which only {@code mmapAreas} are offered for
     * mmap; client accesses outside them go to {@code trapped} (typically registers in front of a
     * memory window). Client accesses inside the areas through REGION_READ/WRITE reach the memory.
     *
     * @param mmapAreas page-aligned, non-overlapping areas inside the BAR, at least one
     * @throws IllegalArgumentException naming the offending area
     */
    public static Bar sharedMemory(long size, List<SparseArea> mmapAreas, RegionHandler trapped) {
        checkSize(size, 4096, "shared-memory BAR");
        Objects.requireNonNull(trapped, "trapped");
        if (mmapAreas.isEmpty()) {
            throw new IllegalArgumentException("a sparse shared-memory BAR needs at least one mmap area");
        }
        List<SparseArea> sorted = new ArrayList<>(mmapAreas);
        sorted.sort(Comparator.comparingLong(SparseArea::offset));
        long end = 0;
        for (SparseArea a : sorted) {
            if (a.size() <= 0 || a.offset() % 4096 != 0 || a.size() % 4096 != 0) {
                throw new IllegalArgumentException("mmap area " + a + " must be non-empty and page aligned");
            }
            if (a.offset() < end || a.end() > size) {
                throw new IllegalArgumentException("mmap area " + a + " overlaps another or ends past the BAR size " + size);
            }
            end = a.end();
        }
        return new Bar(size, Type.MEMORY32, false, trapped, true, List.copyOf(sorted));
    }

    private static void checkSize(long size, long min, String what) {
        if (size < min || size > MAX_SIZE || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException(what + " size " + size + " must be a power of two in [" + min + ", "
                    + MAX_SIZE + "]");
        }
    }

    /** @return this BAR as a 64-bit memory BAR (it then also takes the next BAR index) */
    public Bar as64Bit() {
        if (type == Type.IO) {
            throw new IllegalStateException("an I/O BAR cannot be 64-bit");
        }
        return new Bar(size, Type.MEMORY64, prefetchable, handler, shared, mmapAreas);
    }

    /** @return this memory BAR marked prefetchable */
    public Bar asPrefetchable() {
        if (type == Type.IO) {
            throw new IllegalStateException("an I/O BAR cannot be prefetchable");
        }
        return new Bar(size, type, true, handler, shared, mmapAreas);
    }

    /** @return the size in bytes */
    public long size() {
        return size;
    }

    /** @return the address space type */
    public Type type() {
        return type;
    }

    /** @return whether the BAR is marked prefetchable */
    public boolean prefetchable() {
        return prefetchable;
    }

    /** @return whether shared memory backs the BAR */
    public boolean isSharedMemory() {
        return shared;
    }

    /** @return the handler for callback accesses (all of them, or the trapped ones), if any */
    public Optional<RegionHandler> handler() {
        return Optional.ofNullable(handler);
    }

    /**
     * @return the areas offered for mmap, sorted; empty for a callback BAR, and for a shared-memory
     *         BAR that is mappable as a whole
     */
    public List<SparseArea> mmapAreas() {
        return mmapAreas;
    }

    @Override
    public String toString() {
        return "Bar[" + type + (prefetchable ? " prefetchable" : "") + " size=0x" + Long.toHexString(size)
                + (shared ? " shared" + (mmapAreas.isEmpty() ? "" : " areas=" + mmapAreas) : " callbacks") + "]";
    }
}
