/**
 * The region manager, modelled on QEMU's {@code hw/vfio/region.c} after the {@code
 * region_map}/{@code region_unmap} change: which parts of a region can be mapped ({@link
 * vfio.core.region.RegionLayout}), the mapped fast path and its revocation ({@link
 * vfio.core.region.MappedView}), and the driver-facing accessors ({@link
 * vfio.core.region.DeviceRegion}). Private to the core.
 */
package vfio.core.region;
