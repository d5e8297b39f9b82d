package vfio.backend.apple.iokit;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.Locale;
import org.osgi.service.component.ComponentContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * Enables the {@link IOKitDextConnector} component on macOS and nowhere else. Without it the
 * connector, and therefore the Apple backend's factory, stays absent: on Linux the bundle resolves and
 * starts but is deliberately idle, which this component logs once.
 *
 * <p>Why a gate component rather than a connector that refuses to activate: a failing activation is
 * logged as an error by SCR on every system that is not macOS, and a Require-Capability on
 * {@code osgi.native} would keep the whole bundle (and its simulated dext) unresolved on Linux. A
 * component that is disabled until this gate enables it costs one small immediate component and shows
 * up in the runtime's component DTOs as disabled, which is what it is.
 */
@Component(name = MacOsGate.COMPONENT, service = {}, immediate = true)
public final class MacOsGate {
    /** Component name. */
    public static final String COMPONENT = "vfio.backend.apple.gate";
    /** The line logged on systems other than macOS (the integration test looks for it). */
    public static final String IDLE_MESSAGE = "vfio.backend.apple is deliberately idle";
    private static final Logger LOG = System.getLogger(MacOsGate.class.getName());

    /** Checks the system and enables the IOKit connector if it is macOS. */
    @Activate
    public MacOsGate(ComponentContext context) {
        String os = System.getProperty("os.name", "");
        if (!isMacOs(os)) {
            LOG.log(Level.INFO, IDLE_MESSAGE + " on " + os + ": the VFIOUserPCIDriver dext exists only on macOS, so the IOKit"
                    + " connector stays disabled and no BackendFactory is registered (configure PID vfio.backend.apple.sim"
                    + " to use the simulated dext)");
            return;
        }
        if (!jnaPlatformPresent()) {
            LOG.log(Level.ERROR, "macOS detected but com.sun.jna.platform.mac is not available: install the jna-platform"
                    + " bundle; the Apple dext backend stays disabled");
            return;
        }
        context.enableComponent(IOKitDextConnector.COMPONENT);
        LOG.log(Level.INFO, "macOS detected: enabled the IOKit dext connector");
    }

    /** @return whether {@code osName} (the {@code os.name} property) is macOS */
    static boolean isMacOs(String osName) {
        String n = osName.toLowerCase(Locale.ROOT);
        return n.startsWith("mac os x") || n.startsWith("macos") || n.equals("darwin");
    }

    private static boolean jnaPlatformPresent() {
        try {
            Class.forName("com.sun.jna.platform.mac.IOKitUtil", false, MacOsGate.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }
}
