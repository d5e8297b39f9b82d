package vfio.core.region;

import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import vfio.api.backend.MappedArea;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.posix.ErrnoException;
import vfio.posix.MappedMemory;

/**
 * The mapped areas of one region on one backend session, as accessors see them: immutable, published
 * through the region's volatile {@code view} field and revoked before the backend unmaps.
 *
 * <p><b>Revocation protocol.</b> An accessor reads {@code view}, accesses a buffer of this view, then
 * reads {@code view} again; if it changed and {@link #revoked} is set, the access may have hit the
 * placeholder memory and is redone (reads) or reported (writes). To unmap, the core first sets
 * {@code view} to null, then calls {@link #revoke()}: {@code revoked = true}, then every area's
 * pages are replaced in place by private anonymous memory (mmap {@code MAP_FIXED}), so an accessor
 * still holding this view reads zeros or writes into nothing and never faults. Only then does the
 * backend's {@code regionUnmap} run. The placeholder pages are unmapped by a {@link Cleaner} once
 * this object is unreachable, which accessors prevent with {@code Reference.reachabilityFence} for as
 * long as they may touch its buffers.
 *
 * <p>Areas larger than {@link #CHUNK} are viewed as several buffers (a {@link ByteBuffer} holds at
 * most 2 GiB); an aligned access of at most 8 bytes never crosses a chunk boundary.
 *
 * <p>When the first chunk starts at region offset 0 (a fully mapped BAR, the common case, or a BAR
 * whose trapped hole comes later), the view is {@link #zeroBased}: a region offset in that chunk is
 * then a location ({@link #locateFromZero}).
 */
final class MappedView {
    /** Largest buffer an area is viewed through: 1 GiB, a multiple of every page size. */
    static final long CHUNK = 1L << 30;
    private static final System.Logger LOG = System.getLogger("vfio.core.region");
    private static final Cleaner CLEANER = Cleaner.create(r -> {
        Thread t = new Thread(r, "vfio-region-cleaner");
        t.setDaemon(true);
        return t;
    });

    /** Region offset of each chunk's first byte. */
    final long[] starts;
    /** Size of each chunk in bytes. */
    final long[] sizes;
    /** Little-endian direct view of each chunk. */
    final ByteBuffer[] buffers;
    /** Native address of each chunk's first byte (what {@link RawLoads} reads). */
    private final long[] addresses;
    /** The first chunk again, in fields: most regions have one chunk, and fields are cheaper than arrays. */
    private final long start0;
    private final long size0;
    private final ByteBuffer buffer0;
    private final long address0;
    /** The second chunk in fields too (a BAR with a trapped hole has two areas); size -1 if none. */
    private final long start1;
    private final long size1;
    private final long address1;
    /** Whether the first chunk starts at region offset 0, so region offsets in it are locations. */
    final boolean zeroBased;
    /** Set (before the pages are replaced) when the view is revoked; read by accessors after a race. */
    volatile boolean revoked;

    private final List<MappedArea> areas;
    private final Placeholder placeholder;

    private MappedView(List<MappedArea> areas, List<MappedMemory> memories, long[] starts, long[] sizes,
            long[] addresses, ByteBuffer[] buffers) {
        this.areas = areas;
        this.starts = starts;
        this.sizes = sizes;
        this.addresses = addresses;
        this.buffers = buffers;
        this.start0 = starts[0];
        this.size0 = sizes[0];
        this.buffer0 = buffers[0];
        this.address0 = addresses[0];
        boolean two = starts.length > 1;
        this.start1 = two ? starts[1] : 0;
        this.size1 = two ? sizes[1] : -1;
        this.address1 = two ? addresses[1] : 0;
        this.zeroBased = start0 == 0;
        this.placeholder = new Placeholder(memories);
        CLEANER.register(this, placeholder); // accessors hold the view while they may touch its pages
    }

    /**
     * Builds the view of the areas a backend mapped, after checking them against what was asked.
     *
     * @param mapped    what {@code regionMap} returned
     * @param requested what the core asked to map (validated, sorted)
     * @throws IllegalArgumentException if an area was not asked for, is out of order or not page
     *                                  aligned: the backend broke the {@code regionMap} contract
     */
    static MappedView of(List<MappedArea> mapped, List<SparseArea> requested) {
        List<SparseArea> left = new ArrayList<>(requested);
        long previousEnd = 0;
        for (MappedArea a : mapped) {
            SparseArea asked = new SparseArea(a.offset(), a.size());
            if (!left.contains(asked)) {
                throw new IllegalArgumentException("area " + RegionLayout.describe(asked) + " was not asked for");
            }
            if (a.offset() < previousEnd) {
                throw new IllegalArgumentException("area " + RegionLayout.describe(asked) + " is out of order");
            }
            if ((a.address() & (MappedMemory.pageSize() - 1)) != 0) {
                throw new IllegalArgumentException("area " + RegionLayout.describe(asked) + " has address 0x"
                        + Long.toHexString(a.address()) + ", not page aligned");
            }
            left.remove(asked);
            previousEnd = asked.end();
        }
        List<MappedMemory> memories = new ArrayList<>();
        List<long[]> chunks = new ArrayList<>();
        for (MappedArea a : mapped) {
            memories.add(MappedMemory.adopt(a.address(), a.size()));
            for (long done = 0; done < a.size(); done += CHUNK) {
                chunks.add(new long[] {a.offset() + done, Math.min(CHUNK, a.size() - done), a.address() + done});
            }
        }
        long[] starts = new long[chunks.size()];
        long[] sizes = new long[chunks.size()];
        long[] addresses = new long[chunks.size()];
        ByteBuffer[] buffers = new ByteBuffer[chunks.size()];
        for (int i = 0; i < chunks.size(); i++) {
            long[] c = chunks.get(i);
            starts[i] = c[0];
            sizes[i] = c[1];
            addresses[i] = c[2];
            buffers[i] = MappedMemory.adopt(c[2], c[1]).view();
        }
        return new MappedView(List.copyOf(mapped), memories, starts, sizes, addresses, buffers);
    }

    /**
     * Finds where an aligned access of {@code width} bytes at region offset {@code offset} lands.
     *
     * @return {@code (chunk << 32) | indexInChunk}, or -1 if the access is unaligned or not inside
     *         one chunk (the slow path's case); the first two chunks are checked without touching
     *         arrays
     */
    long locate(long offset, int width) {
        long rel = offset - start0;
        if (rel >= 0 && rel <= size0 - width) {
            return (rel & (width - 1)) == 0 ? rel : -1;
        }
        return locateBeyondFirst(offset, width);
    }

    /**
     * {@link #locate} for a {@link #zeroBased} view, where a region offset in the first chunk is its
     * own location: saves a load and a subtraction on the common path.
     */
    long locateFromZero(long offset, int width) {
        if (offset >= 0 && offset <= size0 - width) {
            return (offset & (width - 1)) == 0 ? offset : -1;
        }
        return locateBeyondFirst(offset, width);
    }

    private long locateBeyondFirst(long offset, int width) {
        long rel1 = offset - start1;
        if (rel1 >= 0 && rel1 <= size1 - width) {
            return (rel1 & (width - 1)) == 0 ? (1L << 32) | rel1 : -1;
        }
        long[] s = starts;
        long[] z = sizes;
        for (int i = 2; i < s.length; i++) {
            long rel = offset - s[i];
            if (rel >= 0 && rel <= z[i] - width) {
                return (rel & (width - 1)) == 0 ? ((long) i << 32) | rel : -1;
            }
        }
        return -1;
    }

    /** @return the buffer of the chunk a {@link #locate} result points into */
    ByteBuffer buffer(long location) {
        return location < (1L << 32) ? buffer0 : buffers[(int) (location >>> 32)];
    }

    /** @return the native address a {@link #locate} result points to */
    long address(long location) {
        if (location < (1L << 32)) {
            return address0 + location;
        }
        int chunk = (int) (location >>> 32);
        return (chunk == 1 ? address1 : addresses[chunk]) + (location & 0xffff_ffffL);
    }

    /** @return the chunk that holds all of {@code [offset, offset+length)}, or -1 */
    int chunkContaining(long offset, long length) {
        for (int i = 0; i < starts.length; i++) {
            long rel = offset - starts[i];
            if (rel >= 0 && rel <= sizes[i] - length) {
                return i;
            }
        }
        return -1;
    }

    /** @return the areas as the backend returned them (what {@code regionUnmap} gets) */
    List<MappedArea> areas() {
        return areas;
    }

    /** @return the mapped byte ranges, sorted */
    List<SparseArea> ranges() {
        List<SparseArea> r = new ArrayList<>(areas.size());
        for (MappedArea a : areas) {
            r.add(new SparseArea(a.offset(), a.size()));
        }
        return List.copyOf(r);
    }

    /**
     * Revokes the view: marks it revoked, then replaces every area's pages with inert private memory.
     * Call only after the region's {@code view} no longer refers to this object.
     *
     * @return whether every area was replaced; if not, the backend must not be told to unmap (its
     *         pages are still reachable through this view) and the failure has been logged
     */
    boolean revoke() {
        revoked = true;
        boolean all = true;
        for (MappedMemory m : placeholder.memories) {
            try {
                m.revoke();
            } catch (ErrnoException e) {
                all = false;
                LOG.log(Level.ERROR, "cannot revoke mapped area " + m + ": " + e.getMessage()
                        + "; the backend keeps that mapping until the process exits");
            }
        }
        placeholder.retired = all;
        return all;
    }

    /**
     * What the cleaner unmaps: the placeholder pages left after revocation. Holds no reference to
     * the view (a cleaning action must not).
     */
    private static final class Placeholder implements Runnable {
        final List<MappedMemory> memories;
        volatile boolean retired;

        Placeholder(List<MappedMemory> memories) {
            this.memories = memories;
        }

        @Override
        public void run() {
            if (!retired) {
                return; // never revoked (or revocation failed): the pages are not ours to unmap
            }
            for (MappedMemory m : memories) {
                try {
                    m.unmap();
                } catch (ErrnoException e) {
                    LOG.log(Level.WARNING, "cannot unmap placeholder " + m + ": " + e.getMessage());
                }
            }
        }
    }
}
