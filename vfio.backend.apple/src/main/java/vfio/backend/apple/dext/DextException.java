package vfio.backend.apple.dext;

/**
 * A dext call returned something other than {@code kIOReturnSuccess}. Carries the operation and the
 * {@code kern_return_t}; the backend translates it into the device API's exceptions.
 */
public final class DextException extends Exception {
    private static final long serialVersionUID = 1L;

    private final Selector selector;
    private final int kernReturn;

    /**
     * @param selector   the selector or IOKit call that failed
     * @param kernReturn what it returned
     * @param detail     arguments or context for the message, or null
     */
    public DextException(Selector selector, int kernReturn, String detail) {
        super(selector.dextName() + " failed with " + KernReturn.describe(kernReturn)
                + (detail == null ? "" : " (" + detail + ")"));
        this.selector = selector;
        this.kernReturn = kernReturn;
    }

    /** @return the operation that failed */
    public Selector selector() {
        return selector;
    }

    /** @return the {@code kern_return_t} / {@code IOReturn} */
    public int kernReturn() {
        return kernReturn;
    }

    /** @return whether the dext or device is gone (see {@link KernReturn#meansGone}) */
    public boolean meansGone() {
        return KernReturn.meansGone(kernReturn);
    }
}
