/**
 * The backend SPI: what a backend bundle implements so the core can drive devices through it.
 *
 * <p>A backend registers a {@link vfio.api.backend.BackendFactory} service. For every configured
 * device the core asks each factory how well it {@link vfio.api.backend.BackendFactory#match
 * matches} the device's address, opens the device on the best one and talks to it only through the
 * returned {@link vfio.api.backend.DeviceIoOps}, the Java form of QEMU's {@code VFIODeviceIOOps}
 * (including {@code region_map}/{@code region_unmap}). When the factory service goes away (bundle
 * stop, update, uninstall) the core revokes every mapping, tears the device down through the same
 * operations and closes them, so a backend is hot-swappable as long as it follows these contracts.
 *
 * <p>Types implemented by the core and handed to a backend ({@link vfio.api.backend.IrqSignal},
 * {@link vfio.api.backend.DmaMemory}) are {@code @ConsumerType}; a backend never needs the core
 * bundle.
 */
@Version("1.0.0")
@Export
package vfio.api.backend;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
