/**
 * The conformance kit: checks a {@link vfio.api.backend.BackendFactory} and the {@link
 * vfio.api.backend.DeviceIoOps} it opens against the backend SPI's contract.
 *
 * <p>A backend author describes the device to test as a {@link vfio.tck.Subject} (factory, address,
 * optional {@link vfio.tck.Hooks} for what only the device knows) and runs {@link
 * vfio.tck.ConformanceKit}: every check has an id, an area and the contract clause it enforces, and
 * ends {@link vfio.tck.Outcome#PASSED passed}, {@link vfio.tck.Outcome#FAILED failed} or {@link
 * vfio.tck.Outcome#SKIPPED skipped} (when it needs a hook or capability the subject lacks). The same
 * checks run in plain JUnit 5 ({@code vfio.tck.junit}) and inside an OSGi framework (the Gogo command
 * {@code vfio:conformance}).
 *
 * <p>The kit is Linux-only where it counts descriptors and mappings ({@code /proc/self}); elsewhere
 * those checks are skipped.
 */
@Version("1.0.0")
@Export
package vfio.tck;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
