/**
 * An emulation of QEMU's educational PCI device ({@code edu}, 1234:11e8) served over vfio-user,
 * so that a driver written against the platform's device API runs unchanged against QEMU's device
 * through the kernel and against this emulation anywhere.
 *
 * <p>{@link vfio.emulator.edu.EduEmulator} starts one on a socket (for tests and embedding);
 * {@link vfio.emulator.edu.Main} runs one as a process. The bundle also provides Declarative
 * Services components: one configured per socket (factory PID {@code vfio.emulator.edu}), and the
 * platform's embedded default device (PID {@code vfio.emulator.edu.embedded}).
 */
@Version("1.0.0")
@Export
package vfio.emulator.edu;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
