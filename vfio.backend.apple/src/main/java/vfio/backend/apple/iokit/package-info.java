/**
 * The macOS implementation of the dext connection: IOKit and CoreFoundation (and the few Mach calls
 * they need) through JNA, in this one package. jna-platform's {@code com.sun.jna.platform.mac}
 * provides the registry side (matching, properties, object release); {@link
 * vfio.backend.apple.iokit.IOKitNative} declares the user-client, memory-mapping and
 * notification-port calls that jna-platform lacks, each citing Apple's header.
 *
 * <p>Nothing here is loaded on other systems: {@link vfio.backend.apple.iokit.MacOsGate} enables the
 * {@link vfio.backend.apple.iokit.IOKitDextConnector} component only on macOS.
 *
 * <p><b>Never run:</b> this code has been compiled and reviewed against the headers, not executed on
 * macOS (see docs/apple-backend.md).
 */
package vfio.backend.apple.iokit;
