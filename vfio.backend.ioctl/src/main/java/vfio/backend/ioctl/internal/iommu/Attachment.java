package vfio.backend.ioctl.internal.iommu;

import vfio.backend.ioctl.internal.kernel.KernelFile;

/**
 * An open device and the address space it is attached to. The owner closes {@link #device()} and
 * then calls {@link #release()} exactly once, which drops the device's share of the group,
 * container or iommufd (the last user closes them).
 *
 * @param device      the device file (owned by the holder of the attachment)
 * @param dma         the address space, shared with other devices
 * @param description which API and files, for the shell
 * @param release     drops this device's share of the shared objects; idempotent
 */
public record Attachment(KernelFile device, DmaSpace dma, String description, Runnable release) {
}
