/**
 * The Apple dext backend: the {@link vfio.api.backend.BackendFactory} component for addresses
 * {@code apple:pci:BB:DD.F}, the shared reference-counted dext session per host function, and the
 * {@link vfio.api.backend.DeviceIoOps} with the synthesised VFIO info, the config-space filter, BAR
 * mapping and trapped access, the interrupt loop and DMA registration. Talks to the dext only through
 * {@link vfio.backend.apple.dext.DextConnection}.
 */
package vfio.backend.apple.internal;
