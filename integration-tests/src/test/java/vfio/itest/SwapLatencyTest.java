package vfio.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.service.cm.Configuration;
import vfio.api.device.Device;
import vfio.api.device.DeviceState;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Region;

/**
 * The hot-swap figures of docs/benchmarks.md §5 with real bundles: {@link #SWAPS} stops (each
 * followed by a start) and {@link #SWAPS} updates of the memory backend bundle (100 each; a storm:
 * {@code mvn -o -pl integration-tests verify -Dtest=SwapLatencyTest -Dvfio.itest.swaps=500}), each timed from the
 * {@code stop()} or {@code update()} call until the device is bound again with BAR2 mapped, while a
 * reader calls {@code read32} on BAR2 (mapped) and BAR1 (through the backend) and records how long
 * its longest call during each swap took (how long a caller was blocked).
 *
 * <p>It asserts what must hold (every swap ends bound and mapped, every read returns what was
 * written) and prints the latencies; it asserts no latency, which would make it a timed test.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class SwapLatencyTest extends PlatformTestBase {
    static final int SWAPS = Integer.getInteger("vfio.itest.swaps", 100);
    private static final long PATTERN = 0x5eed0000L;

    @Test
    public void bundleStopsAndUpdatesRebindTheDeviceWithItsRegionsMapped() throws Exception {
        Device device = Devices.boundMemoryDevice(cm, context, "latency0");
        Region bar2 = device.region(2);
        Region bar1 = device.region(1);
        bar2.write32(0x100, (int) PATTERN);
        bar1.write32(0x30, (int) PATTERN); // a scratch register: no side effect
        Reader reader = new Reader(bar2, bar1);
        reader.start();
        Bundle backend = Devices.installed(context, "vfio.backend.memory");
        long fdsBefore = openDescriptors();
        int threadsBefore = Thread.activeCount();

        List<Long> stopUs = new ArrayList<>();
        List<Long> updateUs = new ArrayList<>();
        List<Long> blockedUs = new ArrayList<>();
        for (int i = 0; i < 2 * SWAPS; i++) {
            boolean update = i % 2 == 1;
            long generation = device.generation();
            reader.longest = 0;
            long t0 = System.nanoTime();
            if (update) {
                backend.update();
            } else {
                backend.stop();
                backend.start();
            }
            awaitRebound(device, bar2, generation);
            (update ? updateUs : stopUs).add((System.nanoTime() - t0) / 1000);
            LockSupport.parkNanos(2_000_000); // the reader's call that spanned the swap has ended
            blockedUs.add(reader.longest / 1000);
        }
        reader.stop = true;
        reader.join(20_000);
        assertTrue("the reader is stuck", !reader.isAlive());
        long fdsAfter = openDescriptors();
        int threadsAfter = Thread.activeCount();
        System.out.printf("bundle swaps: descriptors %d before, %d after; threads %d before, %d after%n",
                fdsBefore, fdsAfter, threadsBefore, threadsAfter);
        // A leak per swap would show as hundreds; a few are the framework's own (bundle revisions).
        assertTrue("descriptors leaked: " + fdsBefore + " -> " + fdsAfter, fdsAfter <= fdsBefore + 8);
        assertTrue("threads leaked: " + threadsBefore + " -> " + threadsAfter, threadsAfter <= threadsBefore + 2);
        System.out.printf("bundle swaps: stop+start n %d p50-us %d p99-us %d max-us %d; update n %d p50-us %d"
                + " p99-us %d max-us %d; longest read32 per swap p50-us %d p99-us %d max-us %d;"
                + " %d reads ok, %d unavailable%n",
                stopUs.size(), pct(stopUs, 50), pct(stopUs, 99), pct(stopUs, 100), updateUs.size(), pct(updateUs, 50),
                pct(updateUs, 99), pct(updateUs, 100), pct(blockedUs, 50), pct(blockedUs, 99), pct(blockedUs, 100),
                reader.ok, reader.unavailable);
        assertEquals("wrong reads: " + reader.wrong, List.of(), new ArrayList<>(reader.wrong));
        assertTrue("the reader made progress", reader.ok > 2 * SWAPS);
    }

    /**
     * Failover between two backends under OSGi: two instances of the memory backend (factory
     * configurations, scores 300 and 200) serve the same device state. {@link #SWAPS} times, the
     * bound (better) backend's configuration is deleted, so SCR deactivates it and the device fails
     * over to the other, then created again, so the device moves back to it (greedy policy); each
     * timed from the ConfigurationAdmin call until the device is bound on the expected backend with
     * BAR2 mapped, while the reader checks every value.
     */
    @Test
    public void aDeviceFailsOverToASecondBackendAndMovesBackWithItsRegionsMapped() throws Exception {
        Configuration better = Devices.memoryBackend(cm, "failover-a", 300);
        Configuration other = Devices.memoryBackend(cm, "failover-b", 200);
        Devices.awaitBackendService(context, "failover-a", HotSwapTest.REBIND_BOUND);
        Devices.awaitBackendService(context, "failover-b", HotSwapTest.REBIND_BOUND);
        Device device = Devices.boundMemoryDevice(cm, context, "failover0");
        Devices.awaitBackend(device, "failover-a", HotSwapTest.REBIND_BOUND);
        Region bar2 = device.region(2);
        Region bar1 = device.region(1);
        bar2.write32(0x100, (int) PATTERN);
        bar1.write32(0x30, (int) PATTERN);
        Reader reader = new Reader(bar2, bar1);
        reader.start();

        List<Long> leaveUs = new ArrayList<>();
        List<Long> appearUs = new ArrayList<>();
        List<Long> blockedUs = new ArrayList<>();
        for (int i = 0; i < SWAPS; i++) {
            long generation = device.generation();
            reader.longest = 0;
            long t0 = System.nanoTime();
            better.delete();
            awaitRebound(device, bar2, generation, "failover-b");
            leaveUs.add((System.nanoTime() - t0) / 1000);

            generation = device.generation();
            t0 = System.nanoTime();
            better = Devices.memoryBackend(cm, "failover-a", 300);
            awaitRebound(device, bar2, generation, "failover-a");
            appearUs.add((System.nanoTime() - t0) / 1000);
            LockSupport.parkNanos(2_000_000);
            blockedUs.add(reader.longest / 1000);
        }
        reader.stop = true;
        reader.join(20_000);
        assertTrue("the reader is stuck", !reader.isAlive());
        better.delete();
        other.delete();
        System.out.printf("failover: bound backend leaves n %d p50-us %d p99-us %d max-us %d; better backend appears"
                + " n %d p50-us %d p99-us %d max-us %d; longest read32 per round p50-us %d p99-us %d max-us %d;"
                + " %d reads ok, %d unavailable%n",
                leaveUs.size(), pct(leaveUs, 50), pct(leaveUs, 99), pct(leaveUs, 100), appearUs.size(),
                pct(appearUs, 50), pct(appearUs, 99), pct(appearUs, 100), pct(blockedUs, 50), pct(blockedUs, 99),
                pct(blockedUs, 100), reader.ok, reader.unavailable);
        assertEquals("wrong reads: " + reader.wrong, List.of(), new ArrayList<>(reader.wrong));
        assertTrue("the reader made progress", reader.ok > 2 * SWAPS);
    }

    private static void awaitRebound(Device d, Region bar2, long generation) {
        awaitRebound(d, bar2, generation, null);
    }

    /**
     * Waits (100 µs polls) until the device is bound by a later session than {@code generation}
     * (on {@code backendId}, unless null), BAR2 mapped.
     */
    private static void awaitRebound(Device d, Region bar2, long generation, String backendId) {
        long deadline = System.nanoTime() + HotSwapTest.REBIND_BOUND.toNanos();
        while (!(d.state() == DeviceState.BOUND && d.generation() != generation && !bar2.mappedRanges().isEmpty()
                && (backendId == null || d.backendId().filter(backendId::equals).isPresent()))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(d.name() + " not bound again" + (backendId == null ? "" : " on " + backendId)
                        + " with BAR2 mapped within " + HotSwapTest.REBIND_BOUND + "; it is " + d.state() + " on "
                        + d.backendId().orElse("nothing") + ": " + d.stateReason());
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /** Open descriptors of this JVM (Pax Exam's native container runs the framework in it). */
    private static long openDescriptors() throws java.io.IOException {
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    private static long pct(List<Long> values, int p) {
        List<Long> s = new ArrayList<>(values);
        Collections.sort(s);
        return s.get(Math.min(s.size() - 1, (int) Math.ceil(p / 100.0 * s.size()) - 1));
    }

    /** Reads both registers in turn, keeping the longest call (reset by the test per swap). */
    private static final class Reader extends Thread {
        final Region mapped;
        final Region trapped;
        final ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
        volatile boolean stop;
        volatile long longest;
        long ok;
        long unavailable;

        Reader(Region mapped, Region trapped) {
            super("latency-reader");
            this.mapped = mapped;
            this.trapped = trapped;
        }

        @Override
        public void run() {
            boolean fast = true;
            while (!stop) {
                long t0 = System.nanoTime();
                try {
                    int v = fast ? mapped.read32(0x100) : trapped.read32(0x30);
                    if (v != (int) PATTERN) {
                        wrong.add(String.format("%s read 0x%08x", fast ? "BAR2" : "BAR1", v));
                        return;
                    }
                    ok++;
                } catch (DeviceUnavailableException e) {
                    unavailable++;
                } catch (RuntimeException e) {
                    wrong.add(e.toString());
                    return;
                }
                long took = System.nanoTime() - t0;
                if (took > longest) {
                    longest = took;
                }
                fast = !fast;
            }
        }
    }
}
