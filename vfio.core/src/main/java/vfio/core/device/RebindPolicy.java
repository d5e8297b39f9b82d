package vfio.core.device;

import java.util.Locale;

/** What a bound device does when a better backend appears. */
public enum RebindPolicy {
    /** Move to a backend that ranks higher than the current one (score, then service ranking). */
    GREEDY,
    /** Stay on the current backend for as long as it is registered and still matches. */
    STICKY;

    /**
     * @param value {@code greedy} or {@code sticky}, case-insensitive
     * @throws IllegalArgumentException naming the accepted values
     */
    public static RebindPolicy parse(String value) {
        String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "greedy" -> GREEDY;
            case "sticky" -> STICKY;
            default -> throw new IllegalArgumentException("rebind policy '" + value + "' is not greedy or sticky");
        };
    }

    /** @return the configuration value, {@code greedy} or {@code sticky} */
    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }
}
