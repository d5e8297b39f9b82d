package vfio.core.device;

import java.lang.System.Logger.Level;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import vfio.api.backend.BackendFactory;
import vfio.api.device.Device;
import vfio.api.device.DeviceEvent;
import vfio.api.device.DeviceListener;
import vfio.core.irq.IrqDispatcher;

/**
 * One device per {@value DeviceSettings#FACTORY_PID} factory configuration: a thin adapter that
 * feeds a {@link CoreDevice} with its settings and the backend factories DS tracks, registers the
 * device as a {@link Device} service itself (so the service stays registered across rebinds while
 * its {@code vfio.device.state} and {@code vfio.device.backend} properties follow the device), and
 * tells {@link DeviceListener} services of state changes.
 *
 * <p>The reference named {@code backend} takes its target filter from the {@code backend.target}
 * configuration property, so DS itself hands over only the factories an operator allows.
 */
@Component(name = DeviceSettings.FACTORY_PID, configurationPid = DeviceSettings.FACTORY_PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE, service = {}, immediate = true)
@Designate(ocd = DeviceConfiguration.class, factory = true)
public final class DeviceComponent {
    private static final System.Logger LOG = System.getLogger("vfio.core.device");
    /** Device names in use by the active components of this bundle, to each configuration's PID. */
    private static final Map<String, Object> NAMES = new ConcurrentHashMap<>();

    private final CoreDevice device;
    private final ServiceRegistration<Device> registration;
    private final List<DeviceListener> listeners = new CopyOnWriteArrayList<>();
    private final Object pid;
    private volatile String name;

    /**
     * @throws IllegalArgumentException if the configuration is invalid or its name is taken (SCR
     *                                  logs the message and leaves the configuration inactive)
     */
    @Activate
    public DeviceComponent(BundleContext context, Map<String, Object> properties, @Reference(name = "dispatcher") IrqDispatcher dispatcher) {
        DeviceSettings settings = DeviceSettings.from(properties);
        pid = properties.getOrDefault(Constants.SERVICE_PID, settings.name());
        claim(settings.name());
        name = settings.name();
        try {
            device = new CoreDevice(settings, dispatcher, this::announce);
            registration = context.registerService(Device.class, device, serviceProperties());
        } catch (RuntimeException e) {
            NAMES.remove(settings.name(), pid);
            throw e;
        }
    }

    /**
     * Starts binding. SCR calls this after the constructor and after binding every backend
     * registered now: starting in the constructor let the binder choose among the first backends
     * SCR happened to bind, and a sticky device then stayed on a worse one.
     */
    @Activate
    void start() {
        device.start();
    }

    private void claim(String wanted) {
        Object holder = NAMES.putIfAbsent(wanted, pid);
        if (holder != null && !holder.equals(pid)) {
            throw new IllegalArgumentException("device name '" + wanted + "' of configuration " + pid
                    + " is already used by configuration " + holder + "; device names must be unique");
        }
    }

    @Modified
    void modified(Map<String, Object> properties) {
        DeviceSettings settings = DeviceSettings.from(properties);
        String old = name;
        if (!settings.name().equals(old)) {
            claim(settings.name());
            name = settings.name();
            NAMES.remove(old, pid);
        }
        device.update(settings);
        setProperties();
    }

    @Deactivate
    void deactivate() {
        try {
            registration.unregister();
        } catch (IllegalStateException e) {
            // already unregistered by the framework
        }
        device.close();
        NAMES.remove(name, pid);
    }

    @Reference(name = "backend", service = BackendFactory.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY,
            updated = "updatedBackend", unbind = "unbindBackend")
    void bindBackend(BackendFactory factory, Map<String, Object> properties) {
        device.addBackend(BackendCandidate.of(factory, properties));
    }

    void updatedBackend(BackendFactory factory, Map<String, Object> properties) {
        device.updateBackend(BackendCandidate.of(factory, properties));
    }

    void unbindBackend(BackendFactory factory, Map<String, Object> properties) {
        device.removeBackend((Long) properties.get(Constants.SERVICE_ID));
    }

    @Reference(name = "listener", service = DeviceListener.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, unbind = "removeListener")
    void addListener(DeviceListener listener) {
        listeners.add(listener);
    }

    void removeListener(DeviceListener listener) {
        listeners.remove(listener);
    }

    /** On the binder thread: updates the service properties, then tells the listeners. */
    private void announce(DeviceEvent event) {
        setProperties();
        for (DeviceListener l : listeners) {
            try {
                l.deviceChanged(event);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "device listener " + l + " failed on " + event.device().name(), e);
            }
        }
    }

    private void setProperties() {
        ServiceRegistration<Device> r = registration;
        if (r == null) {
            return;
        }
        try {
            r.setProperties(serviceProperties());
        } catch (IllegalStateException e) {
            // unregistered during deactivation
        }
    }

    private Hashtable<String, Object> serviceProperties() {
        Hashtable<String, Object> p = new Hashtable<>();
        DeviceSettings s = device.settings();
        CoreDevice.Status st = device.status();
        p.put(Device.PROP_NAME, s.name());
        p.put(Device.PROP_ADDRESS, s.address());
        p.put(Device.PROP_STATE, st.state().name());
        if (st.backendId() != null) {
            p.put(Device.PROP_BACKEND, st.backendId());
        }
        return p;
    }
}
