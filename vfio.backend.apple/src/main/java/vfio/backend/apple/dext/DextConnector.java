package vfio.backend.apple.dext;

import java.util.List;

/**
 * The way to reach VFIOUserPCIDriver dext instances: an OSGi service of this bundle, provided by the
 * macOS IOKit implementation (only on macOS) or by the simulated dext (only when configured). The
 * Apple backend's factory exists only while one is present.
 *
 * <p><b>Threading:</b> both methods may be called from any thread, concurrently.
 */
public interface DextConnector {
    /** Service property naming the implementation: {@code iokit} or {@code simulated}. */
    String PROP_KIND = "vfio.dext.connector";

    /** @return the implementation's kind, the value of {@link #PROP_KIND} */
    String kind();

    /**
     * Finds the dext instances ({@code IOServiceMatching("IOUserService")}, keeping those whose
     * {@code IOUserClass} is {@code VFIOUserPCIDriver}).
     *
     * @return the services, each owned by the caller (close them)
     * @throws DextException if the registry lookup failed
     */
    List<DextService> findServices() throws DextException;

    /**
     * Opens a user-client connection to one dext instance ({@code IOServiceOpen(service,
     * mach_task_self(), 0)}).
     *
     * @return the connection, owned by the caller, who closes it
     * @throws DextException if the open was refused (e.g. {@code kIOReturnNotPermitted} without the
     *                       user-client entitlement)
     */
    DextConnection open(DextService service) throws DextException;
}
