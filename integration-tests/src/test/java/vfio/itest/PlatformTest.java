package vfio.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.inject.Inject;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.osgi.framework.namespace.PackageNamespace;
import org.osgi.framework.wiring.BundleWire;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.service.component.runtime.dto.UnsatisfiedReferenceDTO;
import vfio.api.backend.BackendFactory;

/** The whole bundle set starts in Felix: bundles active, components satisfied, backends listed. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class PlatformTest extends PlatformTestBase {
    /** On Linux the Apple backend waits, by design, for a dext connector only macOS provides. */
    private static final String APPLE = "vfio.backend.apple";
    private static final String DEXT_CONNECTOR = "vfio.backend.apple.dext.DextConnector";

    @Inject
    private ServiceComponentRuntime scr;
    @Inject
    private CommandProcessor commands;

    @Test
    public void everyBundleIsActive() {
        List<String> problems = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            boolean lazy = Constants.ACTIVATION_LAZY.equals(b.getHeaders().get(Constants.BUNDLE_ACTIVATIONPOLICY));
            if (b.getState() != Bundle.ACTIVE && !(lazy && b.getState() == Bundle.STARTING)) {
                problems.add(b.getSymbolicName() + " is in state " + b.getState());
            }
        }
        assertEquals("bundles not active: " + problems, List.of(), problems);
    }

    /** Its optional import of sun.misc is what lets mapped reads load by address (RawLoads). */
    @Test
    public void theCoreIsWiredToSunMiscForItsRawMappedLoads() {
        Bundle core = Devices.installed(context, "vfio.core");
        List<String> wired = new ArrayList<>();
        for (BundleWire w : core.adapt(BundleWiring.class).getRequiredWires(PackageNamespace.PACKAGE_NAMESPACE)) {
            wired.add((String) w.getCapability().getAttributes().get(PackageNamespace.PACKAGE_NAMESPACE));
        }
        assertTrue("vfio.core imports " + wired, wired.contains("sun.misc"));
    }

    @Test
    public void everyComponentIsSatisfiedExceptTheAppleBackendWaitingForItsDext() {
        List<String> problems = new ArrayList<>();
        for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs()) {
            if (!scr.isComponentEnabled(d)) {
                continue; // disabled by design (enabled by configuration or OS)
            }
            for (ComponentConfigurationDTO c : scr.getComponentConfigurationDTOs(d)) {
                if (c.state == ComponentConfigurationDTO.ACTIVE || c.state == ComponentConfigurationDTO.SATISFIED) {
                    continue;
                }
                if (APPLE.equals(d.bundle.symbolicName) && c.state == ComponentConfigurationDTO.UNSATISFIED_REFERENCE
                        && waitsOnlyForDext(c)) {
                    continue;
                }
                problems.add(d.name + " in " + d.bundle.symbolicName + " state " + c.state);
            }
        }
        assertEquals("components not satisfied: " + problems, List.of(), problems);
    }

    private static boolean waitsOnlyForDext(ComponentConfigurationDTO c) {
        for (UnsatisfiedReferenceDTO u : c.unsatisfiedReferences) {
            if (!u.target.contains(DEXT_CONNECTOR) && !DEXT_CONNECTOR.equals(interfaceOf(c, u.name))) {
                return false;
            }
        }
        return true;
    }

    private static String interfaceOf(ComponentConfigurationDTO c, String reference) {
        for (var r : c.description.references) {
            if (r.name.equals(reference)) {
                return r.interfaceName;
            }
        }
        return null;
    }

    @Test
    public void theAppleBackendRegistersNoBackendOnLinux() throws Exception {
        assertTrue(context.getServiceReferences(BackendFactory.class, "(vfio.backend.id=" + APPLE + ")").isEmpty());
    }

    @Test
    public void vfioBackendsListsTheBackendsThatRegistered() throws Exception {
        String out = execute("vfio:backends");
        assertTrue(out, out.contains("vfio.backend.user"));
        assertTrue(out, out.contains("vfio.backend.ioctl"));
    }

    private String execute(String line) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (CommandSession session = commands.createSession(System.in, out, out)) {
            Object result = session.execute(line);
            if (result != null) {
                out.println(session.format(result, org.apache.felix.service.command.Converter.INSPECT));
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
