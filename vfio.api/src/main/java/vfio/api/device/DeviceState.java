package vfio.api.device;

/** Whether a {@link Device} currently has a backend behind it. */
public enum DeviceState {
    /** A backend is open and the regions, IRQs and DMA mappings are set up: accesses proceed. */
    BOUND,
    /**
     * No backend serves the device at the moment (none matches, or the last one left). Accesses wait
     * up to the device's access timeout for a rebind, then fail with {@link
     * DeviceUnavailableException}.
     */
    UNBOUND,
    /**
     * The last attempt to open or restore the device failed; {@link Device#stateReason()} says why.
     * The core tries again when a backend appears or changes. Accesses behave as in {@link #UNBOUND}.
     */
    FAILED
}
