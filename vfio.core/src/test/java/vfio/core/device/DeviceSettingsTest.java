package vfio.core.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DeviceSettingsTest {
    private static Map<String, Object> minimal() {
        Map<String, Object> p = new HashMap<>();
        p.put("name", "nic0");
        p.put("address", "vfio-user:/run/nic0.sock");
        return p;
    }

    @Test
    void defaultsApplyWhenOnlyNameAndAddressAreGiven() {
        DeviceSettings s = DeviceSettings.from(minimal());
        assertThat(s.backendTarget()).isEqualTo("(vfio.backend.id=*)");
        assertThat(s.rebindPolicy()).isEqualTo(RebindPolicy.GREEDY);
        assertThat(s.accessTimeout()).isEqualTo(Duration.ofMillis(5000));
        assertThat(s.options()).isEmpty();
    }

    @Test
    void optionKeysArePassedWithoutTheirPrefix() {
        Map<String, Object> p = minimal();
        p.put("option.iommu", "group");
        p.put("option.retries", 3);
        p.put("option.", "ignored");
        p.put("rebind.policy", "STICKY");
        p.put("access.timeout.ms", "250");
        DeviceSettings s = DeviceSettings.from(p);
        assertThat(s.options()).containsOnly(Map.entry("iommu", "group"), Map.entry("retries", "3"));
        assertThat(s.rebindPolicy()).isEqualTo(RebindPolicy.STICKY);
        assertThat(s.accessTimeout()).isEqualTo(Duration.ofMillis(250));
    }

    @Test
    void missingOrBadValuesAreRejectedWithMessagesThatSayWhatToDo() {
        Map<String, Object> p = minimal();
        p.remove("name");
        p.put("service.pid", "vfio.device~x");
        assertThatThrownBy(() -> DeviceSettings.from(p)).hasMessageContaining("vfio.device~x")
                .hasMessageContaining("has no 'name'");
        Map<String, Object> q = minimal();
        q.put("address", " ");
        assertThatThrownBy(() -> DeviceSettings.from(q)).hasMessageContaining("device nic0 has no 'address'");
        Map<String, Object> r = minimal();
        r.put("backend.target", "(vfio.backend.id=x");
        assertThatThrownBy(() -> DeviceSettings.from(r)).hasMessageContaining("not a valid LDAP filter");
        Map<String, Object> t = minimal();
        t.put("access.timeout.ms", 0L);
        assertThatThrownBy(() -> DeviceSettings.from(t)).hasMessageContaining("outside 1..600000");
        t.put("access.timeout.ms", "soon");
        assertThatThrownBy(() -> DeviceSettings.from(t)).hasMessageContaining("not a number");
        Map<String, Object> u = minimal();
        u.put("rebind.policy", "eager");
        assertThatThrownBy(() -> DeviceSettings.from(u)).hasMessageContaining("not greedy or sticky");
    }

    @Test
    void theTargetFilterMatchesBackendProperties() {
        Map<String, Object> p = minimal();
        p.put("backend.target", "(&(vfio.backend.id=vfio.backend.user)(service.ranking>=0))");
        DeviceSettings s = DeviceSettings.from(p);
        assertThat(s.targetFilter().matches(Map.of("vfio.backend.id", "vfio.backend.user", "service.ranking", 0))).isTrue();
        assertThat(s.targetFilter().matches(Map.of("vfio.backend.id", "vfio.backend.ioctl"))).isFalse();
    }
}
