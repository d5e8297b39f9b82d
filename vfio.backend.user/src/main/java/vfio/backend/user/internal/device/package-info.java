/**
 * The backend SPI's device operations on top of a vfio-user connection: device, region and IRQ
 * infos, region mapping and messages, IRQ routing, DMA mappings, reset, device features and
 * migration data.
 *
 * <p>Private to the bundle; not exported.
 */
package vfio.backend.user.internal.device;
