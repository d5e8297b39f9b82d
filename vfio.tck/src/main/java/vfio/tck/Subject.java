package vfio.tck;

import java.time.Duration;
import java.util.Map;
import vfio.api.backend.BackendFactory;

/**
 * What the kit tests: one device, opened on one backend factory.
 *
 * <p>The kit opens the device many times (every check works on a fresh {@link
 * vfio.api.backend.DeviceIoOps}, so a failing check cannot spoil the next) and never twice at once,
 * except where a check says so. It writes only where {@link Hooks} allow. The device's state after a
 * run is whatever the last check left; a backend author points the kit at a test device.
 *
 * @param factory     the backend under test; not null
 * @param address     the device address the factory is expected to serve
 * @param options     backend options passed in every {@link vfio.api.backend.OpenRequest}
 * @param hooks       what only the device knows; {@link Hooks#none()} if nothing
 * @param timeout     the {@link vfio.api.backend.OpenRequest#timeout()} and how long the kit waits for
 *                    an interrupt or a DMA transfer to arrive; a whole check may take six times as
 *                    long before the kit reports it as hung
 * @param quietPeriod how long the kit watches for an interrupt that must <em>not</em> arrive (masked,
 *                    disabled) before concluding that it did not; long enough for the backend's
 *                    delivery path (a server thread, a socket), short enough to keep the kit fast
 */
public record Subject(BackendFactory factory, String address, Map<String, String> options, Hooks hooks,
        Duration timeout, Duration quietPeriod) {
    /** Default {@link #timeout()}: 5 s. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);
    /** Default {@link #quietPeriod()}: 100 ms. */
    public static final Duration DEFAULT_QUIET_PERIOD = Duration.ofMillis(100);

    /**
     * @throws IllegalArgumentException if the factory, address or hooks are null or a duration is not
     *                                  positive
     */
    public Subject {
        if (factory == null || address == null || hooks == null || options == null) {
            throw new IllegalArgumentException("factory, address, options and hooks are required");
        }
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
        if (quietPeriod == null || quietPeriod.isNegative() || quietPeriod.isZero()) {
            throw new IllegalArgumentException("quiet period must be positive, got " + quietPeriod);
        }
        options = Map.copyOf(options);
    }

    /** @return a subject without options or hooks, with the default timeout and quiet period */
    public static Subject of(BackendFactory factory, String address) {
        return new Subject(factory, address, Map.of(), Hooks.none(), DEFAULT_TIMEOUT, DEFAULT_QUIET_PERIOD);
    }

    /** @return this subject with other hooks */
    public Subject withHooks(Hooks newHooks) {
        return new Subject(factory, address, options, newHooks, timeout, quietPeriod);
    }

    /** @return this subject with other open options */
    public Subject withOptions(Map<String, String> newOptions) {
        return new Subject(factory, address, newOptions, hooks, timeout, quietPeriod);
    }

    /** @return this subject with another timeout */
    public Subject withTimeout(Duration newTimeout) {
        return new Subject(factory, address, options, hooks, newTimeout, quietPeriod);
    }

    /** @return this subject with another quiet period */
    public Subject withQuietPeriod(Duration newQuietPeriod) {
        return new Subject(factory, address, options, hooks, timeout, newQuietPeriod);
    }

    /** @return how long one check may run before the kit reports it as hung */
    public Duration checkTimeout() {
        return timeout.multipliedBy(6);
    }
}
