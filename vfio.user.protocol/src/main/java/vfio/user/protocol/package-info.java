/**
 * The vfio-user wire protocol (QEMU docs/interop/vfio-user.rst): commands, the 16-byte header,
 * payload layouts, the capabilities JSON, and {@link vfio.user.protocol.Channel}, which frames
 * messages and their file descriptors on a UNIX socket with strict limits. Shared by the client
 * backend and the server library; nothing here decides policy (who answers what).
 *
 * <p>All integers are little-endian (the protocol says host order; this platform runs on
 * little-endian hosts only). Every decoder validates its input and throws {@link
 * vfio.user.protocol.ProtocolException} for anything malformed.
 */
@Version("1.0.0")
@Export
package vfio.user.protocol;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
