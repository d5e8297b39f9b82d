/**
 * The device manager: one {@link vfio.core.device.CoreDevice} per device configuration, which
 * follows the backend factories, picks the best one ({@link vfio.core.device.BackendRanking}), opens
 * the device on it on its own binder thread, and keeps the device usable across backend swaps. The
 * DS component ({@link vfio.core.device.DeviceComponent}) is a thin adapter from ConfigAdmin and the
 * service registry to these plain classes. Private to the core.
 */
package vfio.core.device;
