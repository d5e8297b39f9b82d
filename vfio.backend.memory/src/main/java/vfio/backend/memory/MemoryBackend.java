package vfio.backend.memory;

import java.util.Map;
import java.util.regex.Pattern;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;

/**
 * A backend whose devices live in shared memory: {@code memory:NAME} is a small PCI device (see
 * {@link MemoryDevice}) whose registers are a file in {@value #STORE_DIR}, so its state survives the
 * backend being stopped, updated or replaced, as real hardware survives a driver reload.
 *
 * <p>This is the example a backend author copies: a factory that matches one address scheme and
 * opens {@link DeviceIoOps}; nothing else. Without configuration one instance runs with id {@code
 * vfio.backend.memory}; factory configurations ({@code vfio.backend.memory}) add instances with other
 * ids and scores, which tests use to play a better and a worse backend for the same device.
 */
@Designate(ocd = MemoryBackend.Config.class, factory = true)
@Component(name = "vfio.backend.memory", configurationPolicy = ConfigurationPolicy.OPTIONAL,
        property = BackendFactory.PROP_ID + "=vfio.backend.memory")
public final class MemoryBackend implements BackendFactory {
    /** Where device state lives: tmpfs, private to this user. */
    static final String STORE_DIR = "/dev/shm/vfio-memory";
    private static final String SCHEME = "memory:";
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,63}");

    @ObjectClassDefinition(name = "VFIO memory backend", description = "A backend serving memory:NAME devices")
    public @interface Config {
        @AttributeDefinition(name = "Backend id", description = "Published as the service property vfio.backend.id")
        String vfio_backend_id() default "vfio.backend.memory";

        @AttributeDefinition(description = "Match score for memory: addresses (1..1000)", min = "1", max = "1000")
        int score() default Match.DEFAULT_SCORE;
    }

    private final String id;
    private final int score;

    @Activate
    public MemoryBackend(Config config) {
        this(config.vfio_backend_id(), config.score());
    }

    /** For use without OSGi. */
    public MemoryBackend(String id, int score) {
        if (score < 1 || score > 1000) {
            throw new IllegalArgumentException("score " + score + " outside 1..1000");
        }
        this.id = id;
        this.score = score;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Match match(String address) {
        if (!address.startsWith(SCHEME)) {
            return Match.no("not a memory: address");
        }
        String name = address.substring(SCHEME.length());
        if (!NAME.matcher(name).matches()) {
            return Match.no("memory device name '" + name + "' must be 1-64 of a-z, 0-9 and '-', starting with a letter or digit");
        }
        return Match.of(score, "memory device " + name + " in " + STORE_DIR);
    }

    @Override
    public DeviceIoOps open(OpenRequest request) {
        Match m = match(request.address());
        if (!m.matches()) {
            throw new DeviceException("cannot open " + request.address() + ": " + m.reason());
        }
        if (!request.options().isEmpty()) {
            throw new DeviceException("the memory backend takes no options, got " + request.options().keySet());
        }
        return MemoryDevice.open(request.address().substring(SCHEME.length()), Map.of());
    }

    @Override
    public String toString() {
        return "MemoryBackend[" + id + ", score " + score + "]";
    }
}
