package vfio.backend.apple.dext;

/**
 * What GetBARInfo (selector 10) reports for one BAR.
 *
 * @param memoryIndex the PCIDriverKit memory index of the BAR (for MMIORead/MMIOWrite; not the
 *                    memory type of {@code IOConnectMapMemory64}, which is 1 + BAR)
 * @param size        size in bytes; 0 if the BAR is not implemented
 * @param type        PCIDriverKit BAR type; bit {@link #PREFETCHABLE} marks a prefetchable BAR
 */
public record BarInfo(int memoryIndex, long size, int type) {
    /** Type bit of a prefetchable memory BAR (as bit 3 of the BAR register). */
    public static final int PREFETCHABLE = 0x08;

    /** @return whether the BAR is prefetchable (mapped write-combining) */
    public boolean prefetchable() {
        return (type & PREFETCHABLE) != 0;
    }
}
