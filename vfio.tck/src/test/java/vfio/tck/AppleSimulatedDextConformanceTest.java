package vfio.tck;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.internal.AppleBackendFactory;
import vfio.backend.apple.sim.FunctionSpec;
import vfio.backend.apple.sim.SimulatedDext;
import vfio.tck.junit.ConformanceTests;

/**
 * The Apple backend against its simulated dext with an edu-like function at 00:02.0 (8 MSI-X
 * vectors), twice: with BAR0 reached through the dext (the simulated device sees every register
 * access, so interrupts raised and DMA done by the device are checked), and with BAR0 mappable
 * (mapping checked; the simulation does not trap stores into a mapped BAR, so device hooks are left
 * out there).
 */
class AppleSimulatedDextConformanceTest {
    private static final String ADDRESS = "apple:pci:00:02.0";

    private SimulatedDext sim;
    private AppleBackendFactory factory;

    private Subject subject(boolean bar0Mappable) throws Exception {
        sim = new SimulatedDext(List.of(FunctionSpec.edu(new Bdf(0, 2, 0), bar0Mappable, 8)));
        factory = new AppleBackendFactory(sim, 1000);
        return Subject.of(factory, ADDRESS);
    }

    @AfterEach
    void stop() {
        if (factory != null) {
            factory.deactivate();
        }
        if (sim != null) {
            sim.close();
        }
    }

    @TestFactory
    Stream<DynamicNode> registersThroughTheDext() throws Exception {
        return ConformanceTests.of(subject(false).withHooks(DeviceProfiles.edu()));
    }

    @TestFactory
    Stream<DynamicNode> mappableBar() throws Exception {
        Hooks identity = Hooks.none().withKnownValue(0, 0, 4, 0x010000edL);
        return ConformanceTests.of(subject(true).withHooks(identity));
    }
}
