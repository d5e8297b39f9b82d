package vfio.backend.apple.sim;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the simulated dext component (PID {@code vfio.backend.apple.sim}). */
@ObjectClassDefinition(name = "VFIO Apple backend: simulated dext",
        description = "A simulated VFIOUserPCIDriver dext serving one edu-like PCI function (Linux only).")
public @interface SimulatedDextConfiguration {
    @AttributeDefinition(name = "Host function", description = "The PCI function the simulated dext serves, BB:DD.F")
    String bdf() default "00:02.0";

    @AttributeDefinition(name = "BAR0 mappable",
            description = "Whether the dext lets clients map BAR0; mapped accesses bypass the edu model, so keep it off"
                    + " to run the edu driver")
    boolean bar0_mappable() default false;

    @AttributeDefinition(name = "MSI-X vectors", description = "Entries of the MSI-X capability (0: none)", min = "0", max = "2048")
    int msix_vectors() default 8;
}
