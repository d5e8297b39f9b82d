package vfio.tck;

/** How a check ended. */
public enum Outcome {
    /** The backend did what the clause requires. */
    PASSED,
    /** The backend broke the clause; the message says how. */
    FAILED,
    /** The check could not run: it needs a hook, capability or device feature the subject lacks. */
    SKIPPED
}
