package vfio.tck.internal;

/** Ends a check as skipped: it needs something the subject does not have. */
final class Skipped extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Skipped(String reason) {
        super(reason, null, false, false);
    }
}
