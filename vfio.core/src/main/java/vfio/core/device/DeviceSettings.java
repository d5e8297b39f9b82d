package vfio.core.device;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;

/**
 * A device configuration, validated. Built from the properties of a {@value #FACTORY_PID} factory
 * configuration ({@link #from}); the keys are the constants of this class.
 *
 * @param name          unique device name
 * @param address       the address handed to backends
 * @param backendTarget LDAP filter on backend factory service properties
 * @param rebindPolicy  greedy or sticky
 * @param accessTimeout how long an access waits for a backend; also each backend operation's timeout
 * @param options       backend options: the {@value #OPTION_PREFIX}* keys without the prefix
 */
public record DeviceSettings(String name, String address, String backendTarget, RebindPolicy rebindPolicy,
        Duration accessTimeout, Map<String, String> options) {
    /** Factory PID of device configurations. */
    public static final String FACTORY_PID = "vfio.device";
    /** Key: the device name (required). */
    public static final String NAME = "name";
    /** Key: the device address (required). */
    public static final String ADDRESS = "address";
    /** Key: LDAP filter on backend factories; DS uses it as the target of the reference named "backend". */
    public static final String BACKEND_TARGET = "backend.target";
    /** Key: {@code greedy} or {@code sticky}. */
    public static final String REBIND_POLICY = "rebind.policy";
    /** Key: access timeout in milliseconds, 1..600000. */
    public static final String ACCESS_TIMEOUT_MS = "access.timeout.ms";
    /** Prefix of backend option keys, e.g. {@code option.iommu=group}. */
    public static final String OPTION_PREFIX = "option.";
    /** The target used when none is configured: every backend factory. */
    public static final String ANY_BACKEND = "(vfio.backend.id=*)";
    /** Default access timeout. */
    public static final long DEFAULT_TIMEOUT_MS = 5000;
    /** Largest access timeout accepted. */
    public static final long MAX_TIMEOUT_MS = 600_000;

    public DeviceSettings {
        options = Map.copyOf(options);
    }

    /**
     * Validates configuration properties.
     *
     * @param properties the configuration's properties (other keys are ignored)
     * @return the settings
     * @throws IllegalArgumentException with a message that names the device and the bad value
     */
    public static DeviceSettings from(Map<String, ?> properties) {
        String name = string(properties, NAME, null);
        String what = "device configuration" + (properties.get("service.pid") != null
                ? " " + properties.get("service.pid") : "");
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException(what + " has no '" + NAME + "': set a unique device name");
        }
        name = name.trim();
        what = "device " + name;
        String address = string(properties, ADDRESS, null);
        if (address == null || address.isBlank()) {
            throw new IllegalArgumentException(what + " has no '" + ADDRESS
                    + "': set one such as pci:0000:00:02.0 or vfio-user:/path/to.sock");
        }
        String target = string(properties, BACKEND_TARGET, ANY_BACKEND);
        if (target.isBlank()) {
            target = ANY_BACKEND;
        }
        filter(what, target);
        RebindPolicy policy;
        try {
            policy = RebindPolicy.parse(string(properties, REBIND_POLICY, "greedy"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + ": " + e.getMessage());
        }
        long timeout = timeoutMs(what, properties.get(ACCESS_TIMEOUT_MS));
        Map<String, String> options = new TreeMap<>();
        for (Map.Entry<String, ?> e : properties.entrySet()) {
            if (e.getKey().startsWith(OPTION_PREFIX) && e.getKey().length() > OPTION_PREFIX.length()) {
                options.put(e.getKey().substring(OPTION_PREFIX.length()), String.valueOf(e.getValue()));
            }
        }
        return new DeviceSettings(name, address.trim(), target, policy, Duration.ofMillis(timeout), options);
    }

    /** @return the parsed {@link #backendTarget} */
    public Filter targetFilter() {
        return filter("device " + name, backendTarget);
    }

    private static Filter filter(String what, String target) {
        try {
            return FrameworkUtil.createFilter(target);
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(what + ": " + BACKEND_TARGET + " '" + target
                    + "' is not a valid LDAP filter (" + e.getMessage() + "); use e.g. (vfio.backend.id=vfio.backend.user)");
        }
    }

    private static long timeoutMs(String what, Object value) {
        if (value == null) {
            return DEFAULT_TIMEOUT_MS;
        }
        long ms;
        try {
            ms = value instanceof Number n ? n.longValue() : Long.parseLong(String.valueOf(value).trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + ": " + ACCESS_TIMEOUT_MS + " '" + value + "' is not a number of milliseconds");
        }
        if (ms < 1 || ms > MAX_TIMEOUT_MS) {
            throw new IllegalArgumentException(what + ": " + ACCESS_TIMEOUT_MS + " " + ms + " is outside 1.." + MAX_TIMEOUT_MS + " ms");
        }
        return ms;
    }

    private static String string(Map<String, ?> properties, String key, String fallback) {
        Object v = properties.get(key);
        if (v instanceof String[] a) {
            v = a.length == 0 ? null : a[0];
        }
        return v == null ? fallback : String.valueOf(v);
    }
}
