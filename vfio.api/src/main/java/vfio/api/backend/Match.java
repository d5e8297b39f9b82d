package vfio.api.backend;

/**
 * How well a backend matches a device address.
 *
 * @param score  0 if the backend cannot serve the address, else a positive preference
 * @param reason why the backend cannot serve it (for score 0), or a short note on what it will use
 *               (e.g. "iommufd device file /dev/vfio/devices/vfio0"); never null
 */
public record Match(int score, String reason) {
    /** The score built-in backends give an address of their own scheme that they can serve. */
    public static final int DEFAULT_SCORE = 100;

    /**
     * @throws IllegalArgumentException if {@code score} is negative or {@code reason} is null
     */
    public Match {
        if (score < 0) {
            throw new IllegalArgumentException("negative match score " + score);
        }
        if (reason == null) {
            throw new IllegalArgumentException("match reason must not be null");
        }
    }

    /** @return a non-match with the reason why */
    public static Match no(String reason) {
        return new Match(0, reason);
    }

    /** @return a match with {@code score} and a note */
    public static Match of(int score, String note) {
        if (score <= 0) {
            throw new IllegalArgumentException("a match needs a positive score, got " + score);
        }
        return new Match(score, note);
    }

    /** @return whether the backend can serve the address */
    public boolean matches() {
        return score > 0;
    }
}
