/**
 * The device API: what a Java device driver uses.
 *
 * <p>The core registers one {@link vfio.api.device.Device} service per configured device. A driver
 * looks it up (by the {@code vfio.device.name} service property), accesses its {@link
 * vfio.api.device.Region regions}, enables its {@link vfio.api.device.Irq interrupts} and allocates
 * {@link vfio.api.device.DmaBuffer DMA memory}. The service stays registered while the backend
 * behind it is swapped; the driver sees that only as a short wait or a {@link
 * vfio.api.device.DeviceUnavailableException}.
 *
 * <p>The value types here ({@link vfio.api.device.DeviceInfo}, {@link vfio.api.device.RegionInfo},
 * {@link vfio.api.device.IrqInfo}) and the exceptions are shared with the backend SPI in {@code
 * vfio.api.backend}; nothing in this package refers to the SPI.
 *
 * <p>All multi-byte register values are little-endian, as PCI defines them. Sizes and offsets are
 * in bytes.
 */
@Version("1.0.0")
@Export
package vfio.api.device;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
