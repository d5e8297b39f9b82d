package vfio.core.device;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/**
 * Metatype of a device configuration (factory PID {@value DeviceSettings#FACTORY_PID}). Attribute
 * ids follow the DS naming rule (an underscore becomes a dot), so {@code backend_target} is the
 * property {@code backend.target}: the target filter of the component's reference named "backend".
 * Backend options are free-form properties {@code option.<key>} and are not listed here.
 */
@ObjectClassDefinition(id = DeviceSettings.FACTORY_PID, name = "VFIO device",
        description = "A device the core binds to the best matching backend and publishes as a"
                + " vfio.api.device.Device service. Backend options go in properties named option.<key>.")
@interface DeviceConfiguration {
    @AttributeDefinition(name = "Name", description = "Unique device name; drivers find the device service by it")
    String name();

    @AttributeDefinition(name = "Address",
            description = "Device address, e.g. pci:0000:00:02.0, vfio-user:/run/dev.sock or apple:pci:01:00.0")
    String address();

    @AttributeDefinition(name = "Backend filter", required = false,
            description = "LDAP filter on backend factory services, e.g. (vfio.backend.id=vfio.backend.user) to pin one")
    String backend_target() default DeviceSettings.ANY_BACKEND;

    @AttributeDefinition(name = "Rebind policy", required = false,
            description = "greedy: move to a better backend when one appears; sticky: stay while the current one is present",
            options = {@Option(label = "greedy", value = "greedy"), @Option(label = "sticky", value = "sticky")})
    String rebind_policy() default "greedy";

    @AttributeDefinition(name = "Access timeout (ms)", required = false, min = "1", max = "600000",
            description = "How long an access waits for a backend before failing; also each backend call's timeout")
    long access_timeout_ms() default DeviceSettings.DEFAULT_TIMEOUT_MS;
}
