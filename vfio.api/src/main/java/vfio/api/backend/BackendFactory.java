package vfio.api.backend;

import org.osgi.annotation.versioning.ProviderType;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceException;

/**
 * A backend, registered as an OSGi service. The core follows these services dynamically and opens
 * each device on the factory with the highest {@link Match#score() score}, ties broken by {@code
 * service.ranking} and then by lower service id. Register with the service property {@link
 * #PROP_ID} equal to {@link #id()} so operators can pin devices to it with a target filter such as
 * {@code (vfio.backend.id=vfio.backend.user)}.
 *
 * <p><b>Threading:</b> {@link #match} and {@link #open} may be called concurrently from several core
 * threads; {@link #match} must be cheap (no device I/O that can hang) and side-effect free.
 */
@ProviderType
public interface BackendFactory {
    /** Service property carrying {@link #id()}. */
    String PROP_ID = "vfio.backend.id";

    /** @return a stable identifier, conventionally the bundle symbolic name */
    String id();

    /**
     * Says whether and how well this backend can serve a device.
     *
     * @param address the configured device address, e.g. {@code pci:0000:00:02.0}
     * @return a score above 0 if {@link #open} is expected to succeed (higher is better; the built-in
     *         backends use 100 for an address of their own scheme), or {@link Match#no} with a reason
     *         a person can act on ("not bound to vfio-pci: echo vfio-pci > .../driver_override")
     */
    Match match(String address);

    /**
     * Opens a device. The caller owns the returned operations and {@link DeviceIoOps#close() closes}
     * them exactly once.
     *
     * @param request the address and options of the device
     * @return the device's operations, ready for use
     * @throws BackendException if the kernel, server or dext refused (errno and operation set)
     * @throws DeviceException  for any other reason the device cannot be opened, with a message
     *                          that says what to do
     */
    DeviceIoOps open(OpenRequest request);
}
