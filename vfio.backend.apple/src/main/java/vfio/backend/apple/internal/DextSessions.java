package vfio.backend.apple.internal;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import vfio.api.device.DeviceException;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextConnector;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextIdentity;
import vfio.backend.apple.dext.DextService;
import vfio.backend.apple.dext.KernReturn;

/**
 * One {@link DextSession} per host function, reference-counted: the first {@link #acquire} finds the
 * dext instance (open each VFIOUserPCIDriver service, keep the one whose GetIdentity matches, close
 * the others), claims it and sets the session up; later acquires of the same function share it; the
 * last {@link #release} closes it (which disconnects and drops the claim).
 *
 * <p><b>Threading:</b> thread-safe; opens and closes are serialised (they are rare, and a connection
 * must not be opened twice for one function).
 */
final class DextSessions {
    private static final Logger LOG = System.getLogger(DextSessions.class.getName());

    private final DextConnector connector;
    private final long waitMillis;
    private final Map<Bdf, Entry> sessions = new HashMap<>();

    private static final class Entry {
        final DextSession session;
        int references;

        Entry(DextSession session) {
            this.session = session;
        }
    }

    /**
     * @param connector  how to reach the dext
     * @param waitMillis the interrupt loop's wait timeout (the lost-wake-up recovery bound)
     */
    DextSessions(DextConnector connector, long waitMillis) {
        this.connector = connector;
        this.waitMillis = waitMillis;
    }

    /**
     * @param device the device name, for messages
     * @return the session of {@code bdf}, with one more reference
     * @throws DeviceException if no dext serves {@code bdf} or it refused (see {@link DextCalls})
     */
    synchronized DextSession acquire(Bdf bdf, String device) {
        Entry e = sessions.get(bdf);
        if (e == null) {
            e = new Entry(connect(bdf, device));
            sessions.put(bdf, e);
            LOG.log(Level.INFO, () -> device + ": connected to the VFIOUserPCIDriver dext for " + bdf + " through the "
                    + connector.kind() + " connector");
        }
        e.references++;
        return e.session;
    }

    /** Drops one reference; the last one closes the session. */
    synchronized void release(DextSession session) {
        Entry e = sessions.get(session.bdf());
        if (e == null || e.session != session) {
            return; // already closed by closeAll
        }
        if (--e.references == 0) {
            sessions.remove(session.bdf());
            session.close();
        }
    }

    /** @return whether a session for {@code bdf} is open */
    synchronized boolean isOpen(Bdf bdf) {
        return sessions.containsKey(bdf);
    }

    /** @return the references to the session of {@code bdf}, 0 if none */
    synchronized int references(Bdf bdf) {
        Entry e = sessions.get(bdf);
        return e == null ? 0 : e.references;
    }

    /** Closes every session regardless of references (the factory is going away). @return how many */
    synchronized int closeAll() {
        int n = sessions.size();
        sessions.values().forEach(e -> e.session.close());
        sessions.clear();
        return n;
    }

    private DextSession connect(Bdf bdf, String device) {
        List<DextService> services;
        try {
            services = connector.findServices();
        } catch (DextException e) {
            throw DextCalls.translate(device, e);
        }
        List<String> others = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        DextConnection match = null;
        DextIdentity identity = null;
        try {
            for (DextService service : services) {
                if (match != null) {
                    break;
                }
                DextConnection c = null;
                try {
                    c = connector.open(service);
                    DextIdentity id = c.identity();
                    if (id.bdf().equals(bdf)) {
                        match = c;
                        identity = id;
                    } else {
                        others.add(id.toString());
                        c.close();
                    }
                } catch (DextException e) {
                    failures.add(service.description() + ": " + e.getMessage()
                            + (e.kernReturn() == KernReturn.NOT_PERMITTED || e.kernReturn() == KernReturn.NOT_PRIVILEGED
                                    ? " (missing the DriverKit user-client entitlement?)" : ""));
                    if (c != null) {
                        c.close();
                    }
                }
            }
        } finally {
            services.forEach(DextService::close);
        }
        if (match == null) {
            throw new DeviceException(device + ": no VFIOUserPCIDriver dext serves host PCI function " + bdf
                    + (services.isEmpty() ? "; no instance of the dext is running: install and activate it and bind it to the device"
                            : "; it serves " + (others.isEmpty() ? "no readable function" : String.join(", ", others)))
                    + (failures.isEmpty() ? "" : "; could not ask " + String.join("; ", failures)));
        }
        try {
            return DextSession.start(bdf, match, identity, waitMillis);
        } catch (DextException e) {
            match.close();
            throw DextCalls.translate(device, e);
        } catch (RuntimeException e) {
            match.close();
            throw e;
        }
    }
}
