package vfio.tck;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import vfio.backend.memory.MemoryBackend;

/**
 * The memory backend exactly as shipped. It answers {@code regionInfo(numRegions)} with an empty
 * region and fails {@code setIrqs} on IRQ index {@code numIrqs} with an
 * ArrayIndexOutOfBoundsException, so the two bounds checks fail and nothing else does. When the
 * backend is fixed this test fails: then delete it and {@code IndexGuard}.
 */
class MemoryBackendAsShippedTest {
    private static final MemoryDevices DEVICES = new MemoryDevices();

    @AfterAll
    static void deleteDevice() throws Exception {
        DEVICES.close();
    }

    @Test
    void failsOnlyTheBoundsChecksOfIndexesPastItsCounts() {
        Report report = ConformanceKit.of(Subject.of(new MemoryBackend("vfio.backend.memory", 100),
                DEVICES.fresh("shipped")).withHooks(DeviceProfiles.memoryDevice())).runAll();
        Set<String> failed = report.with(Outcome.FAILED).stream().map(r -> r.check().id()).collect(Collectors.toSet());
        assertThat(failed).as("vfio.backend.memory as shipped; if it now passes bounds.*, delete this test and"
                + " IndexGuard\n" + report.table()).containsExactlyInAnyOrder("bounds.region-index", "bounds.irq-index");
        assertThat(report.result("bounds.irq-index").orElseThrow().message()).contains("ArrayIndexOutOfBoundsException");
    }
}
