package vfio.tck.internal;

/** A contract violation found by a helper that cannot go on; ends the check as failed with this message. */
final class Problem extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Problem(String message) {
        super(message, null, false, false);
    }
}
