/**
 * The client memory mapped for a device's DMA, and the bounds-checked answers to the server's
 * {@code DMA_READ} and {@code DMA_WRITE} commands.
 *
 * <p>Private to the bundle; not exported.
 */
package vfio.backend.user.internal.dma;
