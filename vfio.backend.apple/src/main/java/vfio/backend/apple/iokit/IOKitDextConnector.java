package vfio.backend.apple.iokit;

import com.sun.jna.Pointer;
import com.sun.jna.platform.mac.IOKit.IOIterator;
import com.sun.jna.platform.mac.IOKit.IORegistryEntry;
import com.sun.jna.platform.mac.IOKitUtil;
import com.sun.jna.ptr.IntByReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextConnector;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextService;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;

/**
 * The dext connector of macOS: finds {@code IOUserService} entries whose {@code IOUserClass} is
 * {@code VFIOUserPCIDriver} and opens them with {@code IOServiceOpen}.
 *
 * <p>The component is disabled by default ({@code enabled = false}); {@link MacOsGate} enables it on
 * macOS only, so on other systems IOKit is never loaded and nothing is logged as an error.
 */
@Component(name = IOKitDextConnector.COMPONENT, enabled = false, service = DextConnector.class,
        property = DextConnector.PROP_KIND + "=" + IOKitDextConnector.KIND)
public final class IOKitDextConnector implements DextConnector {
    /** Component name. */
    public static final String COMPONENT = "vfio.backend.apple.iokit";
    /** Kind reported by {@link #kind()}. */
    public static final String KIND = "iokit";
    /** The dext's IOUserClass. */
    static final String USER_CLASS = "VFIOUserPCIDriver";

    /** Loads IOKit and libSystem now, so a missing library fails activation rather than the first open. */
    @Activate
    public IOKitDextConnector() {
        Objects.requireNonNull(IOKitNative.IOKit.INSTANCE, "IOKit.framework");
        Objects.requireNonNull(IOKitNative.Mach.INSTANCE, "libSystem");
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public List<DextService> findServices() throws DextException {
        IOIterator it = IOKitUtil.getMatchingServices("IOUserService");
        if (it == null) {
            throw new DextException(Selector.OPEN, KernReturn.ERROR, "IOServiceGetMatchingServices(IOUserService) failed");
        }
        List<DextService> found = new ArrayList<>();
        try {
            for (IORegistryEntry e = it.next(); e != null; e = it.next()) {
                String userClass = e.getStringProperty("IOUserClass");
                if (USER_CLASS.equals(userClass)) {
                    found.add(new Service(e));
                } else {
                    e.release();
                }
            }
        } finally {
            it.release();
        }
        return found;
    }

    @Override
    public DextConnection open(DextService service) throws DextException {
        if (!(service instanceof Service s)) {
            throw new IllegalArgumentException("not an IOKit dext service: " + service.description());
        }
        IntByReference connect = new IntByReference();
        int kr = IOKitNative.IOKit.INSTANCE.IOServiceOpen(s.handle(), IOKitNative.Mach.INSTANCE.mach_task_self(), 0, connect);
        if (kr != KernReturn.SUCCESS) {
            throw new DextException(Selector.OPEN, kr, s.description());
        }
        return new IOKitDextConnection(connect.getValue(), s.description());
    }

    /** An {@code io_service_t} of the dext, released with {@code IOObjectRelease}. */
    private static final class Service implements DextService {
        private final IORegistryEntry entry;
        private final String description;
        private boolean released;

        Service(IORegistryEntry entry) {
            this.entry = entry;
            this.description = USER_CLASS + " registry entry 0x" + Long.toHexString(entry.getRegistryEntryID());
        }

        /** @return the port name of the io_service_t (jna-platform keeps it in the pointer value) */
        int handle() {
            return (int) Pointer.nativeValue(entry.getPointer());
        }

        @Override
        public String description() {
            return description;
        }

        @Override
        public synchronized void close() {
            if (!released) {
                released = true;
                entry.release();
            }
        }
    }
}
