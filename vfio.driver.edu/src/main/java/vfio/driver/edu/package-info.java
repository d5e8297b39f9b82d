/**
 * A driver for QEMU's {@code edu} teaching device, written only against the device API: the same
 * code drives QEMU's edu through the Linux VFIO backend, the platform's edu emulation through
 * vfio-user, and the simulated Apple dext. It doubles as the example of how to write a driver.
 */
@Version("1.0.0")
@Export
package vfio.driver.edu;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
