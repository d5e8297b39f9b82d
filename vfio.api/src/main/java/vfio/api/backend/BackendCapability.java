package vfio.api.backend;

/** What a backend's {@link DeviceIoOps} can do beyond the operations every backend has. */
public enum BackendCapability {
    /** {@link DeviceIoOps#regionMap} maps at least some regions; without it the core uses read/write. */
    REGION_MAP,
    /** {@link DeviceIoOps#regionWrite} honours {@code posted = true} (returns before completion). */
    POSTED_WRITES,
    /** {@link DeviceIoOps#dmaMap} and {@link DeviceIoOps#dmaUnmap} work. */
    DMA,
    /** The backend, not the caller, picks the IOVA of a DMA mapping (the requested one is a hint). */
    DMA_IOVA_CHOSEN_BY_BACKEND,
    /** DMA mappings need {@link DmaMemory#fd()}: the memory is shared with another process. */
    DMA_NEEDS_FD,
    /** Interrupts are delivered by the kernel or server writing {@link IrqSignal#fd()} itself. */
    IRQ_SIGNAL_FD,
    /** {@link DeviceIoOps#deviceFeature} is implemented (it may still refuse single features). */
    DEVICE_FEATURE
}
