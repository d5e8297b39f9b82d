package vfio.backend.apple.sim;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextConnector;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextService;
import vfio.posix.ErrnoException;

/**
 * The simulated dext as an OSGi service, so the Apple backend runs end to end inside the platform on
 * Linux: present only while the configuration {@code vfio.backend.apple.sim} exists (then the backend
 * factory registers), gone when it is deleted (then the factory unregisters: a hot-swap). Serves one
 * edu-like function ({@link FunctionSpec#edu}).
 */
@Component(name = SimulatedDextComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE,
        service = DextConnector.class, property = DextConnector.PROP_KIND + "=" + SimulatedDext.KIND)
@Designate(ocd = SimulatedDextConfiguration.class)
public final class SimulatedDextComponent implements DextConnector {
    /** Configuration PID and component name. */
    public static final String PID = "vfio.backend.apple.sim";
    private static final Logger LOG = System.getLogger(SimulatedDextComponent.class.getName());

    private final SimulatedDext dext;

    /**
     * @throws ErrnoException           if the BAR memfds cannot be created
     * @throws IllegalArgumentException if the configured address is malformed
     */
    @Activate
    public SimulatedDextComponent(SimulatedDextConfiguration config) throws ErrnoException {
        Bdf bdf = Bdf.parse(config.bdf());
        this.dext = new SimulatedDext(List.of(FunctionSpec.edu(bdf, config.bar0_mappable(), config.msix_vectors())));
        LOG.log(Level.INFO, () -> "simulated VFIOUserPCIDriver dext serving an edu-like function at " + bdf);
    }

    /** @return the simulation behind the service (fault injection and inspection) */
    public SimulatedDext simulation() {
        return dext;
    }

    @Override
    public String kind() {
        return dext.kind();
    }

    @Override
    public List<DextService> findServices() throws DextException {
        return dext.findServices();
    }

    @Override
    public DextConnection open(DextService service) throws DextException {
        return dext.open(service);
    }

    @Deactivate
    void deactivate() {
        dext.close();
    }
}
