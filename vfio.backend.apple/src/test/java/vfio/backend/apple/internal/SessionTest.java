package vfio.backend.apple.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.OpenRequest;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Pci;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;
import vfio.backend.apple.sim.FunctionSpec;

/** Matching, discovery, identity check, claim and the shared reference-counted connection. */
class SessionTest {
    private SimRig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    @Test
    void matchParsesTheAddressOnly() throws Exception {
        rig = SimRig.edu(false, 1000);
        assertThat(rig.factory.match("apple:pci:00:02.0").score()).isEqualTo(100);
        assertThat(rig.factory.match("apple:pci:0a:1f.7").matches()).isTrue();
        assertThat(rig.factory.match("pci:0000:00:02.0").matches()).isFalse();
        assertThat(rig.factory.match("apple:pci:00:20.0").reason()).contains("00-1f");
        assertThat(rig.factory.match("apple:pci:2.0").reason()).contains("BB:DD.F");
        assertThat(rig.sim.calls()).as("match does no dext I/O").isEmpty();
        assertThat(rig.factory.id()).isEqualTo("vfio.backend.apple");
    }

    @Test
    void twoOpensOfOneFunctionShareOneClaimedConnectionAndTheLastCloseDisconnects() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps first = rig.open();
        assertThat(rig.function().claims()).isEqualTo(1);
        assertThat(rig.function().configSpace()[0x04] & 0x06).as("claim set Memory Space and Bus Master").isEqualTo(0x06);
        AppleDeviceIoOps second = rig.open();
        assertThat(second.session()).isSameAs(first.session());
        assertThat(rig.sim.connectionsOpened()).isEqualTo(1);
        assertThat(rig.calls(Selector.CLAIM)).hasSize(1);
        assertThat(rig.factory.sessions().references(SimRig.BDF)).isEqualTo(2);
        assertThat(rig.factory.match(SimRig.ADDRESS).reason()).contains("shared");

        first.close();
        first.close(); // idempotent
        assertThat(rig.sim.openConnections()).isEqualTo(1);
        assertThat(rig.factory.sessions().references(SimRig.BDF)).isEqualTo(1);
        ByteBuffer id = ByteBuffer.allocate(4);
        second.regionRead(Pci.REGION_CONFIG, 0, id); // still usable
        assertThat(id.position()).isEqualTo(4);

        second.close();
        assertThat(rig.sim.openConnections()).isZero();
        assertThat(rig.function().claims()).isZero();
        assertThat(rig.function().configSpace()[0x04] & 0x04).as("released: bus master off").isZero();

        rig.open(); // a new open connects again
        assertThat(rig.sim.connectionsOpened()).isEqualTo(2);
    }

    @Test
    void discoveryKeepsTheConnectionWhoseIdentityMatchesAndClosesTheOthers() throws Exception {
        FunctionSpec edu = FunctionSpec.edu(SimRig.BDF, false, 8);
        rig = new SimRig(List.of(edu, edu.at(new Bdf(0, 3, 0)), edu.at(new Bdf(1, 0, 0))), 1000);
        AppleDeviceIoOps ops = rig.open("apple:pci:00:03.0");
        assertThat(ops.session().identity().bdf()).isEqualTo(new Bdf(0, 3, 0));
        assertThat(rig.sim.openConnections()).isEqualTo(1);
        assertThat(rig.sim.function(new Bdf(0, 3, 0)).claims()).isEqualTo(1);
        assertThat(rig.sim.function(SimRig.BDF).claims()).isZero();
        assertThat(rig.calls(Selector.GET_IDENTITY)).hasSize(2); // 00:02.0 was asked and closed first
    }

    @Test
    void noMatchingDextNamesWhatWasFound() throws Exception {
        FunctionSpec edu = FunctionSpec.edu(SimRig.BDF, false, 8);
        rig = new SimRig(List.of(edu, edu.at(new Bdf(0, 3, 0))), 1000);
        assertThatThrownBy(() -> rig.open("apple:pci:00:04.0")).isInstanceOf(DeviceException.class)
                .hasMessageContaining("00:04.0").hasMessageContaining("00:02.0 [1234:11e8]").hasMessageContaining("00:03.0");
        assertThat(rig.sim.openConnections()).isZero();
        rig.close();
        rig = new SimRig(List.of(), 1000);
        assertThatThrownBy(() -> rig.open()).isInstanceOf(DeviceException.class).hasMessageContaining("no instance of the dext");
    }

    @Test
    void aServiceThatCannotBeOpenedIsReportedAndTheOthersAreTried() throws Exception {
        FunctionSpec edu = FunctionSpec.edu(SimRig.BDF, false, 8);
        rig = new SimRig(List.of(edu.at(new Bdf(0, 3, 0)), edu), 1000);
        rig.sim.failNext(Selector.OPEN, KernReturn.NOT_PERMITTED);
        assertThat(rig.open().session().identity().bdf()).isEqualTo(SimRig.BDF);
        rig.close();
        rig = SimRig.edu(false, 1000);
        rig.sim.failAlways(Selector.OPEN, KernReturn.NOT_PERMITTED);
        assertThatThrownBy(() -> rig.open()).hasMessageContaining("kIOReturnNotPermitted").hasMessageContaining("entitlement");
    }

    @Test
    void aRefusedClaimFailsTheOpenAndClosesTheConnection() throws Exception {
        rig = SimRig.edu(false, 1000);
        rig.sim.failNext(Selector.CLAIM, KernReturn.EXCLUSIVE_ACCESS);
        assertThatThrownBy(() -> rig.open()).isInstanceOf(BackendException.class)
                .satisfies(e -> assertThat(((BackendException) e).errnoName()).isEqualTo("EBUSY"));
        assertThat(rig.sim.openConnections()).isZero();
        assertThat(rig.factory.sessions().isOpen(SimRig.BDF)).isFalse();
    }

    @Test
    void aDextThatStoppedAnsweringMakesTheDeviceUnavailable() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        rig.sim.failAlways(Selector.CONFIG_READ, KernReturn.NOT_RESPONDING);
        assertThatThrownBy(() -> ops.regionRead(Pci.REGION_CONFIG, 0, ByteBuffer.allocate(4)))
                .isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("kIOReturnNotResponding");
        rig.sim.failAlways(Selector.RESET_DEVICE, KernReturn.MACH_SEND_INVALID_DEST);
        assertThatThrownBy(ops::reset).isInstanceOf(DeviceUnavailableException.class);
    }

    @Test
    void optionsAndMalformedAddressesAreRejected() throws Exception {
        rig = SimRig.edu(false, 1000);
        assertThatThrownBy(() -> rig.factory.open(new OpenRequest("d", SimRig.ADDRESS, java.time.Duration.ofSeconds(1),
                Map.of("iommu", "group")))).isInstanceOf(DeviceException.class).hasMessageContaining("iommu");
        assertThatThrownBy(() -> rig.factory.open(OpenRequest.of("d", "apple:pci:zz"))).isInstanceOf(DeviceException.class)
                .hasMessageContaining("BB:DD.F");
    }

    @Test
    void resetGoesToTheDext() throws Exception {
        rig = SimRig.edu(false, 1000);
        AppleDeviceIoOps ops = rig.open();
        ops.reset();
        assertThat(rig.calls(Selector.RESET_DEVICE)).hasSize(1);
    }

    @Test
    void deactivatingTheFactoryClosesSessionsTheCoreLeftOpen() throws Exception {
        rig = SimRig.edu(false, 1000);
        rig.open();
        rig.factory.deactivate();
        assertThat(rig.sim.openConnections()).isZero();
        assertThat(rig.function().claims()).isZero();
    }
}
