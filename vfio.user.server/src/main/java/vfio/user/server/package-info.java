/**
 * A vfio-user server library: define a PCI device in Java and serve it to one vfio-user client at a
 * time over a UNIX socket (QEMU's docs/interop/vfio-user.rst).
 *
 * <p>Build a {@link vfio.user.server.PciDevice} with {@link vfio.user.server.PciDevice#builder()}:
 * identity, BARs ({@link vfio.user.server.Bar}: register callbacks through a {@link
 * vfio.user.server.RegionHandler}, or shared memory the client can map), interrupts (INTx, MSI,
 * MSI-X), a reset callback and optional migration state ({@link vfio.user.server.MigrationHandler}).
 * Serve it with {@link vfio.user.server.VfioUserServer#start}. Device code raises interrupts through
 * {@link vfio.user.server.PciDevice#interrupts()} and reaches client memory through {@link
 * vfio.user.server.PciDevice#dma()}.
 *
 * <p>The server validates everything a client sends; a request it refuses gets an error reply with
 * an errno, and a client that breaks the message framing is disconnected. After a disconnect the
 * device is reset, the client's DMA mappings and interrupt eventfds are released, and the server
 * waits for the next client.
 */
@Version("1.0.0")
@Export
package vfio.user.server;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
