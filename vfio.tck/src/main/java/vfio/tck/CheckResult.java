package vfio.tck;

import java.time.Duration;

/**
 * How one check went.
 *
 * @param check   the check
 * @param outcome passed, failed or skipped
 * @param message for a failure every problem found, for a skip why, for a pass what was covered
 *                (and any note, e.g. the device's masked-interrupt semantics)
 * @param elapsed how long the check took
 */
public record CheckResult(CheckInfo check, Outcome outcome, String message, Duration elapsed) {
    /** @throws IllegalArgumentException if a field is null */
    public CheckResult {
        if (check == null || outcome == null || message == null || elapsed == null) {
            throw new IllegalArgumentException("every field of a check result is required");
        }
    }

    /** @return whether the check failed */
    public boolean failed() {
        return outcome == Outcome.FAILED;
    }
}
