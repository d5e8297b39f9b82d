package vfio.tck;

/**
 * One check of the kit.
 *
 * @param id     a stable identifier, {@code area.what} (e.g. {@code map.unmap-keeps-revoked-range})
 * @param area   the part of the contract it belongs to (e.g. {@code map})
 * @param clause the contract clause it enforces, naming the interface and method
 */
public record CheckInfo(String id, String area, String clause) {
    /** @throws IllegalArgumentException if a field is null or blank */
    public CheckInfo {
        if (id == null || id.isBlank() || area == null || area.isBlank() || clause == null || clause.isBlank()) {
            throw new IllegalArgumentException("id, area and clause are required");
        }
    }
}
