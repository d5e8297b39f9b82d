package vfio.backend.apple.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;

/**
 * The OSGi metadata bnd generated (bnd-process runs before the tests): the activation rules the
 * backend relies on, so that the bundle resolves everywhere and is idle where it should be.
 */
class BundleMetadataTest {
    private static final Path CLASSES = Path.of("target", "classes");

    private static Element component(String name) throws Exception {
        try (InputStream in = Files.newInputStream(CLASSES.resolve("OSGI-INF").resolve(name + ".xml"))) {
            return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(in).getDocumentElement();
        }
    }

    private static Element child(Element parent, String tag) {
        return (Element) parent.getElementsByTagName(tag).item(0);
    }

    @Test
    void theIOKitConnectorIsDisabledUntilTheGateEnablesIt() throws Exception {
        Element iokit = component("vfio.backend.apple.iokit");
        assertThat(iokit.getAttribute("enabled")).isEqualTo("false");
        assertThat(child(iokit, "provide").getAttribute("interface")).isEqualTo("vfio.backend.apple.dext.DextConnector");
        Element gate = component("vfio.backend.apple.gate");
        assertThat(gate.getAttribute("immediate")).isEqualTo("true");
        assertThat(gate.getElementsByTagName("service").getLength()).isZero();
    }

    @Test
    void theFactoryNeedsExactlyOneConnectorStatically() throws Exception {
        Element factory = component("vfio.backend.apple");
        Element ref = child(factory, "reference");
        assertThat(ref.getAttribute("name")).isEqualTo("connector");
        assertThat(ref.getAttribute("interface")).isEqualTo("vfio.backend.apple.dext.DextConnector");
        assertThat(ref.getAttribute("cardinality")).isIn("", "1..1"); // mandatory
        assertThat(ref.getAttribute("policy")).isIn("", "static");
        assertThat(child(factory, "provide").getAttribute("interface")).isEqualTo("vfio.api.backend.BackendFactory");
    }

    @Test
    void theSimulationRunsOnlyWhenConfigured() throws Exception {
        Element sim = component("vfio.backend.apple.sim");
        assertThat(sim.getAttribute("configuration-policy")).isEqualTo("require");
        assertThat(sim.getAttribute("configuration-pid")).isIn("", "vfio.backend.apple.sim");
    }

    @Test
    void theBundleResolvesWithoutMacOsOrJnaPlatformAndExportsNothing() throws Exception {
        Manifest mf;
        try (InputStream in = Files.newInputStream(CLASSES.resolve("META-INF/MANIFEST.MF"))) {
            mf = new Manifest(in);
        }
        Attributes a = mf.getMainAttributes();
        assertThat(String.valueOf(a.getValue("Require-Capability"))).doesNotContain("osgi.native");
        assertThat(a.getValue("Export-Package")).isNull();
        assertThat(a.getValue("Import-Package").replaceAll("\\s", ""))
                .contains("com.sun.jna.platform.mac;resolution:=optional");
    }
}
