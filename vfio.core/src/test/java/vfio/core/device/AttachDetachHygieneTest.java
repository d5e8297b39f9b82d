package vfio.core.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import vfio.api.device.Irq;
import vfio.api.device.Pci;
import vfio.api.device.Region;
import vfio.core.testing.MemoryBackendFactory;

/**
 * Resource hygiene of issue 9: {@value #DEFAULT_CYCLES} attach/detach cycles of a whole device
 * (its memfd-backed memory, an interrupt dispatcher, the core device, a memory backend bound to
 * it, its mapped BARs, an MSI vector with its eventfd and one interrupt delivered), each closed
 * again. Afterwards no descriptor opened by the cycles is still open, live threads are at most the
 * baseline, {@code /proc/self/maps} has at most {@value #MAPPING_SLACK} more lines, and heap used
 * after a GC is at most {@value #HEAP_SLACK_MIB} MiB more (the JIT and the allocator grow a little
 * whatever the code does; a leak of one mapping or one device per cycle would exceed both).
 * Longer: {@code -Dvfio.hygiene.cycles=100000}.
 */
class AttachDetachHygieneTest {
    static final int DEFAULT_CYCLES = 1000;
    static final int MAPPING_SLACK = 64;
    static final int HEAP_SLACK_MIB = 16;

    @Test
    void aThousandAttachDetachCyclesGiveBackDescriptorsThreadsMappingsAndHeap() throws Exception {
        int cycles = Integer.getInteger("vfio.hygiene.cycles", DEFAULT_CYCLES);
        for (int i = 0; i < 20; i++) {
            cycle(i); // warm-up: class loading, JIT, lazily started JDK threads
        }
        ProcessResources before = ProcessResources.now();
        List<String> fdsBefore = ProcessResources.fdTargets();
        long start = System.nanoTime();
        for (int i = 0; i < cycles; i++) {
            cycle(i);
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        List<String> newFds = ProcessResources.awaitNoNewFds(fdsBefore);
        ProcessResources after = ProcessResources.awaitThreads(before);
        System.out.printf("attach/detach hygiene: %d cycles in %d ms; before %s (%d fds listed); after %s (%d fds listed)%n",
                cycles, millis, before, fdsBefore.size(), after, ProcessResources.fdTargets().size());
        assertThat(newFds).as("descriptors opened by the cycles and still open").isEmpty();
        assertThat(after.threads()).as("live threads").isLessThanOrEqualTo(before.threads());
        assertThat(after.mappings()).as("lines of /proc/self/maps").isLessThanOrEqualTo(before.mappings() + MAPPING_SLACK);
        assertThat(after.heap()).as("heap used after GC").isLessThanOrEqualTo(before.heap() + (HEAP_SLACK_MIB << 20));
    }

    /** One attach/detach: everything created here is closed here. */
    private static void cycle(int i) throws Exception {
        try (DeviceRig rig = new DeviceRig()) {
            MemoryBackendFactory f = rig.register(rig.backend("m"));
            rig.awaitBoundTo("m");
            Region bar0 = rig.device.region(0);
            bar0.write32(0x10, i);
            assertThat(bar0.read32(0x10)).isEqualTo(i);
            Semaphore handled = new Semaphore(0);
            Irq msi = rig.device.irq(Pci.IRQ_MSI);
            msi.enable(1, (irq, vector) -> handled.release());
            assertThat(f.current().fire(Pci.IRQ_MSI, 0)).isTrue();
            assertThat(handled.tryAcquire(5, TimeUnit.SECONDS)).as("interrupt of cycle " + i + " handled").isTrue();
            assertThat(f.violations()).isEmpty();
        }
    }
}
