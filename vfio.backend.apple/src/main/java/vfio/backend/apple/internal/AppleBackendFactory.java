package vfio.backend.apple.internal;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.DextConnector;

/**
 * The Apple dext backend: devices at {@code apple:pci:BB:DD.F}, reached through a {@link
 * DextConnector}. The component has a mandatory static reference to the connector, so the backend
 * exists only while a connector does: on macOS the IOKit one, anywhere the simulated one when it is
 * configured, on Linux without configuration none (the bundle is then deliberately idle).
 *
 * <p>When the connector goes away the component is deactivated: the BackendFactory service is
 * unregistered first (the core tears its devices down through their operations), then every session
 * still open is closed.
 */
@Component(name = AppleBackendFactory.ID, service = BackendFactory.class,
        property = BackendFactory.PROP_ID + "=" + AppleBackendFactory.ID)
@Designate(ocd = AppleBackendConfiguration.class)
public final class AppleBackendFactory implements BackendFactory {
    /** Backend id and component name. */
    public static final String ID = "vfio.backend.apple";
    private static final Logger LOG = System.getLogger(AppleBackendFactory.class.getName());

    private final DextConnector connector;
    private final DextSessions sessions;

    /**
     * @param connector the dext connector (reference {@code connector}, target from the configuration)
     * @param config    the configuration
     */
    @Activate
    public AppleBackendFactory(@Reference(name = "connector") DextConnector connector, AppleBackendConfiguration config) {
        this(connector, config.interrupt_wait_ms());
        LOG.log(Level.INFO, () -> "Apple dext backend active with the " + connector.kind() + " connector");
    }

    /**
     * For use without OSGi (tests).
     *
     * @param waitMillis the interrupt loop's wait timeout in milliseconds (positive)
     */
    public AppleBackendFactory(DextConnector connector, long waitMillis) {
        if (waitMillis <= 0) {
            throw new IllegalArgumentException("interrupt_wait_ms must be positive, got " + waitMillis);
        }
        this.connector = connector;
        this.sessions = new DextSessions(connector, waitMillis);
    }

    @Override
    public String id() {
        return ID;
    }

    /** Cheap: parses the address only (finding the dext needs IPC to it, which {@link #open} does). */
    @Override
    public Match match(String address) {
        if (!AppleAddress.isApple(address)) {
            return Match.no("not an Apple dext address (" + AppleAddress.PREFIX + "BB:DD.F)");
        }
        Bdf bdf;
        try {
            bdf = AppleAddress.parse(address);
        } catch (IllegalArgumentException e) {
            return Match.no(e.getMessage());
        }
        return Match.of(Match.DEFAULT_SCORE, "VFIOUserPCIDriver dext for host function " + bdf + " via the "
                + connector.kind() + " connector" + (sessions.isOpen(bdf) ? " (connection already open, shared)" : ""));
    }

    @Override
    public DeviceIoOps open(OpenRequest request) {
        if (!request.options().isEmpty()) {
            throw new DeviceException(request.name() + ": unknown options " + request.options().keySet()
                    + " for the Apple dext backend (it takes none)");
        }
        Bdf bdf;
        try {
            bdf = AppleAddress.parse(request.address());
        } catch (IllegalArgumentException e) {
            throw new DeviceException(request.name() + ": " + e.getMessage(), e);
        }
        DextSession session = sessions.acquire(bdf, request.name());
        try {
            return new AppleDeviceIoOps(request.name(), session, sessions);
        } catch (RuntimeException e) {
            sessions.release(session);
            throw e;
        }
    }

    /** @return the sessions (for tests) */
    DextSessions sessions() {
        return sessions;
    }

    /** Closes sessions the core did not release (it normally has, on the service unregistration). */
    @Deactivate
    public void deactivate() {
        int n = sessions.closeAll();
        if (n > 0) {
            LOG.log(Level.WARNING, n + " dext session(s) were still open when the Apple backend stopped; closed them");
        }
    }
}
