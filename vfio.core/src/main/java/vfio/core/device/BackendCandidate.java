package vfio.core.device;

import java.util.Map;
import org.osgi.framework.Constants;
import vfio.api.backend.BackendFactory;

/**
 * A backend factory service as the device manager sees it.
 *
 * @param factory    the service object
 * @param id         {@code vfio.backend.id}, or {@link BackendFactory#id()} if the property is missing
 * @param ranking    {@code service.ranking}, 0 if absent or not an integer
 * @param serviceId  {@code service.id}
 * @param properties the service properties (what the target filter is matched against)
 */
public record BackendCandidate(BackendFactory factory, String id, int ranking, long serviceId,
        Map<String, Object> properties) {

    public BackendCandidate {
        properties = Map.copyOf(properties);
    }

    /**
     * @param factory    the service
     * @param properties its service properties (must hold {@code service.id})
     */
    public static BackendCandidate of(BackendFactory factory, Map<String, ?> properties) {
        Object id = properties.get(BackendFactory.PROP_ID);
        Object ranking = properties.get(Constants.SERVICE_RANKING);
        Object serviceId = properties.get(Constants.SERVICE_ID);
        if (!(serviceId instanceof Long)) {
            throw new IllegalArgumentException("backend factory properties lack service.id: " + properties);
        }
        Map<String, Object> copy = new java.util.HashMap<>();
        properties.forEach((k, v) -> {
            if (v != null) {
                copy.put(k, v);
            }
        });
        return new BackendCandidate(factory, id != null ? String.valueOf(id) : factory.id(),
                ranking instanceof Integer r ? r : 0, (Long) serviceId, copy);
    }

    @Override
    public String toString() {
        return id + " (service " + serviceId + ", ranking " + ranking + ")";
    }
}
