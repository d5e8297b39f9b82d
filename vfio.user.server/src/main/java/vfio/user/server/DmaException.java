package vfio.user.server;

import java.io.IOException;

/**
 * Device code could not reach client memory: the range is not DMA-mapped (or lacks the needed
 * permission), bus mastering is off, no client is connected, the client refused a DMA_READ or
 * DMA_WRITE message, or it did not answer in time.
 */
public final class DmaException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    /**
     * @param errno   the Linux errno that best describes the failure (e.g. EFAULT for an unmapped
     *                address, ETIMEDOUT, ENOTCONN)
     * @param message what failed and why
     */
    public DmaException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    /** @return the errno describing the failure */
    public int errno() {
        return errno;
    }
}
