package vfio.backend.apple.dext;

/**
 * The external methods of the dext's user client ({@code IOConnectCallScalarMethod} selectors), as
 * the VFIOUserPCIDriver defines them. Numbers are part of the dext's ABI.
 */
public enum Selector {
    GET_IDENTITY(0, "GetIdentity"),
    CLAIM(1, "Claim"),
    TERMINATE(2, "Terminate"),
    ALLOCATE_DMA_BUFFER(3, "AllocateDMABuffer"),
    FREE_DMA_BUFFER(4, "FreeDMABuffer"),
    REGISTER_DMA_REGION(5, "RegisterDMARegion"),
    UNREGISTER_DMA_REGION(6, "UnregisterDMARegion"),
    PROBE_DMA_REGION(7, "ProbeDMARegion"),
    CONFIG_READ(8, "ConfigRead"),
    CONFIG_WRITE(9, "ConfigWrite"),
    GET_BAR_INFO(10, "GetBARInfo"),
    MMIO_READ(11, "MMIORead"),
    MMIO_WRITE(12, "MMIOWrite"),
    SETUP_INTERRUPTS(13, "SetupInterrupts"),
    CHECK_INTERRUPT(14, "CheckInterrupt"),
    WAIT_INTERRUPT(15, "WaitInterrupt"),
    SET_IRQ_MASK(16, "SetIRQMask"),
    RESET_DEVICE(17, "ResetDevice"),
    /** Not a selector: {@code IOConnectMapMemory64} with memory type 1 + BAR. */
    MAP_BAR(-1, "IOConnectMapMemory64"),
    /** Not a selector: {@code IOConnectUnmapMemory64} with memory type 1 + BAR. */
    UNMAP_BAR(-1, "IOConnectUnmapMemory64"),
    /** Not a selector: IOServiceOpen and the user-client setup. */
    OPEN(-1, "IOServiceOpen");

    private final int number;
    private final String dextName;

    Selector(int number, String dextName) {
        this.number = number;
        this.dextName = dextName;
    }

    /** @return the selector number passed to IOConnectCall*Method, or -1 for the non-selector operations */
    public int number() {
        return number;
    }

    /** @return the name the dext and the reference use, e.g. {@code ConfigRead} */
    public String dextName() {
        return dextName;
    }
}
