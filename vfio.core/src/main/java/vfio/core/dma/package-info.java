/**
 * DMA memory: allocation of shareable memory ({@link vfio.core.dma.DmaMemoryBlock}), IOVA
 * assignment ({@link vfio.core.dma.IovaAllocator}), and a device's buffers that are mapped again on
 * every new backend ({@link vfio.core.dma.DeviceDma}). Private to the core.
 */
package vfio.core.dma;
