package vfio.backend.apple.sim;

/**
 * One BAR of a simulated function.
 *
 * @param kind         what the BAR decodes
 * @param size         size in bytes (a power of two; 0 for {@link Kind#NONE})
 * @param prefetchable whether a memory BAR is prefetchable (the backend maps it write-combining)
 * @param mappable     whether the simulated dext lets a client map it ({@code CopyClientMemoryForType}
 *                     succeeds); when false, accesses go through MMIORead/MMIOWrite and a device model
 *                     sees every one of them
 */
public record SimulatedBar(Kind kind, long size, boolean prefetchable, boolean mappable) {
    /** What a BAR decodes. A {@link #MEMORY64} BAR also occupies the next BAR slot (its upper half). */
    public enum Kind {
        NONE, MEMORY32, MEMORY64, IO
    }

    /**
     * @throws IllegalArgumentException if the size does not fit the kind
     */
    public SimulatedBar {
        if (kind == Kind.NONE ? size != 0 : size <= 0 || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("BAR of kind " + kind + " cannot have size " + size
                    + " (a power of two, 0 only for NONE)");
        }
        if (prefetchable && (kind == Kind.IO || kind == Kind.NONE)) {
            throw new IllegalArgumentException("only memory BARs can be prefetchable");
        }
    }

    /** @return an unimplemented BAR (also used for the upper half of a 64-bit BAR) */
    public static SimulatedBar none() {
        return new SimulatedBar(Kind.NONE, 0, false, false);
    }

    /** @return a mappable 32-bit memory BAR */
    public static SimulatedBar memory32(long size, boolean prefetchable) {
        return new SimulatedBar(Kind.MEMORY32, size, prefetchable, true);
    }

    /** @return a mappable 64-bit memory BAR (the next slot must be {@link #none()}) */
    public static SimulatedBar memory64(long size, boolean prefetchable) {
        return new SimulatedBar(Kind.MEMORY64, size, prefetchable, true);
    }

    /** @return an I/O BAR */
    public static SimulatedBar io(long size) {
        return new SimulatedBar(Kind.IO, size, false, false);
    }

    /** @return this BAR with {@link #mappable()} set to {@code on} */
    public SimulatedBar withMappable(boolean on) {
        return new SimulatedBar(kind, size, prefetchable, on);
    }

    /** @return whether it has memory behind it (every kind but NONE) */
    public boolean present() {
        return kind != Kind.NONE;
    }
}
