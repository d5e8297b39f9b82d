package vfio.backend.apple.internal;

import vfio.api.device.RegionInfo;
import vfio.backend.apple.dext.BarMapping;

/**
 * One BAR as the session found it.
 *
 * @param index        0-5
 * @param kind         what it is
 * @param size         size in bytes from GetBARInfo (0 for {@link Kind#EMPTY} and {@link Kind#UPPER_HALF})
 * @param memoryIndex  PCIDriverKit memory index (for MMIORead/MMIOWrite), -1 if none
 * @param prefetchable GetBARInfo type bit 0x08; such BARs are mapped write-combining
 * @param mapping      the session's own mapping, or null if the BAR is not mappable
 * @param window       trapped access, or null for a BAR without memory
 */
record Bar(int index, Kind kind, long size, int memoryIndex, boolean prefetchable, BarMapping mapping, BarWindow window) {
    /** What a BAR slot holds. */
    enum Kind {
        /** Not implemented (size 0). */
        EMPTY,
        /** The upper 32 bits of the 64-bit BAR in the slot before. */
        UPPER_HALF,
        /** An I/O BAR: never mapped, reached through MMIORead/MMIOWrite. */
        IO,
        /** A memory BAR. */
        MEMORY
    }

    /** @return the VFIO region info: READ|WRITE, plus MMAP when mapped; nothing for empty slots */
    RegionInfo regionInfo() {
        return switch (kind) {
            case EMPTY, UPPER_HALF -> new RegionInfo(index, 0, 0, 0);
            case IO -> new RegionInfo(index, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE, size, 0);
            case MEMORY -> new RegionInfo(index,
                    RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE | (mapping != null ? RegionInfo.FLAG_MMAP : 0), size, 0);
        };
    }
}
