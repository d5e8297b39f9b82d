/**
 * The connection to the {@code VFIOUserPCIDriver} DriverKit extension, as an abstraction with one
 * method per user-client selector: {@link vfio.backend.apple.dext.DextConnector} finds and opens
 * dext instances, {@link vfio.backend.apple.dext.DextConnection} speaks to one of them. Two
 * implementations exist in this bundle: the macOS one over IOKit ({@code vfio.backend.apple.iokit})
 * and a simulation with the same behaviour for Linux ({@code vfio.backend.apple.sim}).
 *
 * <p>Private to the bundle: the backend is the only consumer.
 */
package vfio.backend.apple.dext;
