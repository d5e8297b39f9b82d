package vfio.emulator.edu.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Dictionary;
import java.util.Map;
import org.junit.jupiter.api.Test;
import vfio.user.server.testing.TestClient;

/** The embedded default's configuration logic against an in-memory ConfigurationAdmin; real socket and device. */
class EmbeddedDefaultTest {
    final InMemoryConfigurationAdmin cm = new InMemoryConfigurationAdmin();

    @Test
    void withNoDeviceConfiguredItServesEduAndConfiguresADeviceForIt() throws Exception {
        EmbeddedDefault d = new EmbeddedDefault(cm.admin, true, "edu0", Duration.ofMillis(1));
        Path socket = d.socket();
        try {
            Dictionary<String, Object> props = cm.store.get("vfio.device~edu0");
            assertThat(props).isNotNull();
            assertThat(props.get("name")).isEqualTo("edu0");
            assertThat(props.get("address")).isEqualTo("vfio-user:" + socket);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket.getParent())))
                    .isEqualTo("rwx------");
            assertThat(socket.getParent().getFileName().toString()).startsWith("vfio-" + ProcessHandle.current().pid());
            try (TestClient c = TestClient.open(socket, null)) {
                assertThat(c.read(7, 0, 4)).isEqualTo(0x11e81234L);
                assertThat(c.read(0, 0, 4)).isEqualTo(0x010000edL);
            }
        } finally {
            d.deactivate();
        }
        assertThat(cm.store).isEmpty();
        assertThat(Files.exists(socket)).isFalse();
        assertThat(Files.exists(socket.getParent())).isFalse();
    }

    @Test
    void anOperatorsDeviceConfigurationKeepsItOff() throws Exception {
        cm.put("vfio.device", "nic", Map.of("name", "nic", "address", "pci:0000:00:03.0"));
        EmbeddedDefault d = new EmbeddedDefault(cm.admin, true, "edu0", Duration.ofMillis(1));
        assertThat(d.socket()).isNull();
        assertThat(cm.store).containsOnlyKeys("vfio.device~nic");
        d.deactivate();
        assertThat(cm.store).containsOnlyKeys("vfio.device~nic");
    }

    @Test
    void anOperatorCanSwitchItOff() throws Exception {
        EmbeddedDefault d = new EmbeddedDefault(cm.admin, false, "edu0", Duration.ofMillis(1));
        assertThat(d.socket()).isNull();
        assertThat(cm.store).isEmpty();
        d.deactivate();
    }

    @Test
    void aConfigurationLeftByAKilledRunIsReplaced() throws Exception {
        cm.put("vfio.device", "edu0", Map.of("name", "edu0", "address", "vfio-user:/gone/edu.sock",
                EmbeddedDefault.MARKER, true));
        EmbeddedDefault d = new EmbeddedDefault(cm.admin, true, "edu0", Duration.ofMillis(1));
        try {
            assertThat(d.socket()).isNotNull();
            assertThat(cm.store.get("vfio.device~edu0").get("address")).isEqualTo("vfio-user:" + d.socket());
        } finally {
            d.deactivate();
        }
    }
}
