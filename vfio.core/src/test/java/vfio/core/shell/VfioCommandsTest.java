package vfio.core.shell;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import vfio.api.device.OutOfRangeException;
import vfio.core.device.DeviceRig;
import vfio.core.device.DeviceSettings;
import vfio.core.dto.BackendDTO;
import vfio.core.dto.DeviceDTO;
import vfio.core.testing.MemoryBackendFactory;

/** The commands on a real device bound to the memory backend; ConfigAdmin is an in-memory fake. */
class VfioCommandsTest {
    private DeviceRig rig;
    private MemoryBackendFactory backend;
    private VfioCommands shell;
    private FakeConfigAdmin cm;

    @BeforeEach
    void setUp() throws Exception {
        rig = new DeviceRig();
        backend = rig.register(rig.backend("mem"));
        rig.awaitBoundTo("mem");
        shell = new VfioCommands();
        shell.putDevice(1, rig.device);
        shell.putBackend(new VfioCommands.BackendEntry(backend, "mem", 0, 42, "vfio.test.backend"));
        MemoryBackendFactory other = rig.backend("other");
        other.setScore(0);
        shell.putBackend(new VfioCommands.BackendEntry(other, "other", 5, 43, "vfio.other"));
        cm = new FakeConfigAdmin();
        shell.setConfigAdmin(cm.admin());
    }

    @AfterEach
    void tearDown() {
        rig.close();
    }

    @Test
    void devicesListsStateBackendAndReason() {
        List<DeviceDTO> dtos = shell.deviceDTOs();
        assertThat(dtos).singleElement().satisfies(d -> {
            assertThat(d.name).isEqualTo("dev0");
            assertThat(d.state).isEqualTo("BOUND");
            assertThat(d.backend).isEqualTo("mem");
            assertThat(d.rebindPolicy).isEqualTo("greedy");
            assertThat(d.accessTimeoutMs).isEqualTo(2000);
            assertThat(d.numRegions).isEqualTo(9);
            assertThat(d.since).isPositive();
        });
        String table = shell.devices();
        assertThat(table.lines().findFirst().orElseThrow()).startsWith("NAME").contains("STATE").endsWith("REASON");
        assertThat(table).contains("dev0").contains(DeviceRig.ADDRESS).contains("BOUND")
                .contains("bound to backend mem (score 100, ranking 0)");
    }

    @Test
    void backendsShowScoreAndReasonForAnAddress() {
        List<BackendDTO> dtos = shell.backendDTOs(DeviceRig.ADDRESS);
        assertThat(dtos).extracting(b -> b.id).containsExactly("mem", "other");
        assertThat(dtos.get(0).score).isEqualTo(100);
        assertThat(dtos.get(1).score).isZero();
        assertThat(shell.backends()).contains("vfio.test.backend").doesNotContain("SCORE");
        assertThat(shell.backends(DeviceRig.ADDRESS)).contains("SCORE").contains("score set to 0 by the test")
                .contains("memory device");
        assertThat(shell.backends("pci:0000:00:02.0")).contains("not the address of this memory device");
    }

    @Test
    void readWriteAndDumpAcceptHexAndRegionNames() {
        assertThat(shell.write("dev0", "bar0", "0x10", "0xdeadbeef")).contains("0xdeadbeef").contains("bar0+0x10");
        assertThat(shell.read("dev0", "bar0", "0x10")).isEqualTo("0xdeadbeef");
        assertThat(shell.read("dev0", "0", "16", "2")).isEqualTo("0xbeef");
        shell.write("dev0", "config", "0", "0x41", "1");
        shell.write("dev0", "config", "1", "0x42", "1");
        assertThat(shell.read("dev0", "config", "0", "1")).isEqualTo("0x41");
        shell.write("dev0", "bar2", "0x2000", "0xffffffffffffffff", "8");
        assertThat(shell.read("dev0", "bar2", "0x2000", "8")).isEqualTo("0xffffffffffffffff");
        String dump = shell.dump("dev0", "config", "0", "20");
        assertThat(dump.lines()).hasSize(2);
        assertThat(dump.lines().findFirst().orElseThrow()).startsWith("00000000  41 42 00").endsWith("|AB..............|");
        assertThat(dump.lines().skip(1).findFirst().orElseThrow()).startsWith("00000010  00 00 00 00").endsWith("|....|");
    }

    @Test
    void writesOutsideARegionAreRefusedWithItsSize() {
        assertThatThrownBy(() -> shell.write("dev0", "config", "0xffe", "1")).isInstanceOf(OutOfRangeException.class)
                .hasMessageContaining("size is 0x1000 (4096) bytes");
        assertThatThrownBy(() -> shell.write("dev0", "bar0", "0", "0x100", "1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not fit in 1 byte");
        assertThatThrownBy(() -> shell.read("dev0", "bar0", "0", "3")).hasMessageContaining("not 1, 2, 4 or 8");
        assertThatThrownBy(() -> shell.read("dev0", "bar9", "0")).hasMessageContaining("unknown region 'bar9'");
        assertThatThrownBy(() -> shell.read("dev0", "bar0", "zz")).hasMessageContaining("offset 'zz' is not a number");
        assertThatThrownBy(() -> shell.read("nope", "bar0", "0")).hasMessageContaining("no device named nope (devices: dev0)");
        assertThat(backend.regionWrites()).isZero();
    }

    @Test
    void regionsShowMappedRangesAndTheMappingSwitch() {
        String table = shell.regions("dev0");
        assertThat(table).contains("bar0").contains("0x10000 (64 KiB)").contains("rwm").contains("[0x0, 0x10000)")
                .contains("[0x0, 0x1000) [0x2000, 0x3000)").contains("no (read/write)");
        assertThat(shell.mapping("dev0", "bar0", "off")).contains("is off").contains("nothing");
        assertThat(shell.regions("dev0")).contains("disabled");
        shell.mapping("dev0", "bar0", "on");
        assertThat(shell.regions("dev0")).doesNotContain("disabled");
    }

    @Test
    void irqsShowVectorsAndCounts() {
        String table = shell.irqs("dev0");
        assertThat(table).contains("msi").contains("eventfd,maskable").contains("0 0 0 0");
    }

    @Test
    void infoShowsConfigurationStateAndMatchingBackends() {
        String info = shell.info("dev0");
        assertThat(info).contains("rebind policy   greedy").contains("access timeout  2000 ms")
                .contains("flags           pci,reset (0x3)").contains("Matches for " + DeviceRig.ADDRESS);
    }

    @Test
    void attachBindAndDetachEditDeviceConfigurations() throws Exception {
        assertThat(shell.attach("nic1", "vfio-user:/run/nic1.sock")).contains("created");
        assertThat(cm.configs).containsKey("vfio.device~nic1");
        assertThat(cm.configs.get("vfio.device~nic1")).containsEntry(DeviceSettings.ADDRESS, "vfio-user:/run/nic1.sock")
                .containsEntry(DeviceSettings.BACKEND_TARGET, DeviceSettings.ANY_BACKEND);
        assertThatThrownBy(() -> shell.attach("nic1", "x")).hasMessageContaining("already exists");
        assertThatThrownBy(() -> shell.attach("nic2", "x", "(broken")).hasMessageContaining("not a valid LDAP filter");

        assertThat(shell.bind("nic1", "mem")).contains("(vfio.backend.id=mem)").doesNotContain("No backend");
        assertThat(cm.configs.get("vfio.device~nic1")).containsEntry(DeviceSettings.BACKEND_TARGET, "(vfio.backend.id=mem)");
        assertThat(shell.bind("nic1", "ghost")).contains("No backend ghost is registered yet");
        shell.bind("nic1", "any");
        assertThat(cm.configs.get("vfio.device~nic1")).containsEntry(DeviceSettings.BACKEND_TARGET, DeviceSettings.ANY_BACKEND);

        assertThat(shell.detach("nic1")).contains("deleted");
        assertThat(cm.configs).isEmpty();
        assertThatThrownBy(() -> shell.detach("nic1")).hasMessageContaining("no device configuration named nic1");
    }

    @Test
    void helpNamesEveryCommand() {
        String help = shell.help();
        for (String c : List.of("devices", "backends", "attach", "detach", "bind", "info", "regions", "irqs", "read",
                "write", "dump", "mapping")) {
            assertThat(help).contains("vfio:" + c);
        }
    }

    @Test
    void numbersAndDumpFormattingEdgeCases() {
        assertThat(Numbers.parse("x", "0x1_000")).isEqualTo(4096);
        assertThat(Numbers.parse("x", "-1")).isEqualTo(-1);
        assertThat(Numbers.fit(-1, 1)).isEqualTo(-1);
        assertThat(Numbers.size(4096)).isEqualTo("0x1000 (4 KiB)");
        assertThat(Numbers.size(1536)).isEqualTo("0x600 (1.5 KiB)");
        assertThat(Numbers.size(12)).isEqualTo("0xc");
        assertThat(VfioCommands.escape("a(b)*\\")).isEqualTo("a\\(b\\)\\*\\\\");
        assertThat(Tables.hexDump(0x10, new byte[0])).isEmpty();
    }
}
