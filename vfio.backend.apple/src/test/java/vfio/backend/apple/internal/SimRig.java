package vfio.backend.apple.internal;

import java.util.ArrayList;
import java.util.List;
import vfio.api.backend.OpenRequest;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.Selector;
import vfio.backend.apple.sim.FunctionSpec;
import vfio.backend.apple.sim.SimulatedDext;
import vfio.backend.apple.sim.SimulatedFunction;

/** The Apple backend over a simulated dext, for tests. Closes everything it opened. */
final class SimRig implements AutoCloseable {
    static final Bdf BDF = new Bdf(0, 2, 0);
    static final String ADDRESS = "apple:pci:00:02.0";

    final SimulatedDext sim;
    final AppleBackendFactory factory;
    private final List<AppleDeviceIoOps> opened = new ArrayList<>();

    SimRig(List<FunctionSpec> functions, long waitMillis) throws Exception {
        sim = new SimulatedDext(functions);
        factory = new AppleBackendFactory(sim, waitMillis);
    }

    /** An edu-like function at 00:02.0 (BAR0 mappable or not, 8 MSI-X vectors). */
    static SimRig edu(boolean bar0Mappable, long waitMillis) throws Exception {
        return new SimRig(List.of(FunctionSpec.edu(BDF, bar0Mappable, 8)), waitMillis);
    }

    AppleDeviceIoOps open() {
        return open(ADDRESS);
    }

    AppleDeviceIoOps open(String address) {
        AppleDeviceIoOps ops = (AppleDeviceIoOps) factory.open(OpenRequest.of("test-device", address));
        opened.add(ops);
        return ops;
    }

    SimulatedFunction function() {
        return sim.function(BDF);
    }

    List<SimulatedDext.Call> calls(Selector s) {
        return sim.calls(s);
    }

    @Override
    public void close() {
        opened.forEach(AppleDeviceIoOps::close);
        factory.deactivate();
        sim.close();
    }
}
