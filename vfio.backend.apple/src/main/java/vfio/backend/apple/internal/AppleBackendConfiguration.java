package vfio.backend.apple.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the Apple dext backend (PID {@code vfio.backend.apple}); every attribute is optional. */
@ObjectClassDefinition(name = "VFIO backend: Apple DriverKit dext",
        description = "Serves apple:pci:BB:DD.F devices through the VFIOUserPCIDriver dext.")
public @interface AppleBackendConfiguration {
    @AttributeDefinition(name = "Interrupt wait timeout (ms)",
            description = "Longest wait for the dext's interrupt wake-up before the pending bitmap is read anyway; "
                    + "bounds the delay after a lost wake-up. Each timeout costs two dext calls.", min = "1")
    long interrupt_wait_ms() default 250;

    @AttributeDefinition(name = "Connector filter",
            description = "Target filter of the dext connector to use, e.g. (vfio.dext.connector=simulated)")
    String connector_target() default "(vfio.dext.connector=*)";
}
