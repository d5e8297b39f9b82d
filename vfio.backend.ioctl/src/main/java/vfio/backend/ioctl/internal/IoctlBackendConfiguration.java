package vfio.backend.ioctl.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the Linux VFIO backend (PID {@code vfio.backend.ioctl}); every attribute has a default. */
@ObjectClassDefinition(name = "VFIO Linux ioctl backend",
        description = "Opens PCI devices bound to vfio-pci through the kernel's VFIO API")
public @interface IoctlBackendConfiguration {
    @AttributeDefinition(name = "sysfs root", description = "Where sysfs is mounted (for containers that mount it elsewhere)")
    String sysfs_root() default "/sys";

    @AttributeDefinition(name = "/dev root", description = "Where the device nodes are (vfio/, iommu)")
    String dev_root() default "/dev";
}
