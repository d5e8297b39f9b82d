package vfio.backend.apple.sim;

import java.nio.ByteBuffer;

/** What a {@link DeviceModel} can do to its simulated function. */
public interface DeviceContext {
    /**
     * @param bar a present BAR
     * @return a new little-endian view of the BAR's memory (capacity = the BAR size)
     */
    ByteBuffer bar(int bar);

    /**
     * Fires interrupt vector {@code vector}: sets its pending bit if its enable bit is set and
     * completes an armed WaitInterrupt. Takes {@link #lock()}.
     */
    void raise(int vector);

    /**
     * Bus-master read from a registered DMA region (bus address as RegisterDMARegion returned it).
     * Takes {@link #lock()}.
     *
     * @throws DmaFaultException if the range is not inside one registered region
     */
    void dmaRead(long busAddress, byte[] dst, int offset, int length);

    /** Bus-master write into a registered DMA region. Takes {@link #lock()}. */
    void dmaWrite(long busAddress, byte[] src, int offset, int length);

    /** @return the function's monitor, held during {@link DeviceModel#written} and {@link DeviceModel#reset} */
    Object lock();

    /** Raised by {@link DeviceContext#dmaRead}/{@link DeviceContext#dmaWrite} for an unregistered bus range. */
    final class DmaFaultException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public DmaFaultException(String message) {
            super(message);
        }
    }
}
