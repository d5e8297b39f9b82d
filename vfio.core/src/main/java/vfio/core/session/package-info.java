/**
 * A device's live connection to one backend ({@link vfio.core.session.BackendSession}) and how the
 * region, IRQ and DMA parts of a device reach it ({@link vfio.core.session.SessionSource}). Shared by
 * those parts so that none of them depends on the device manager. Private to the core.
 */
package vfio.core.session;
