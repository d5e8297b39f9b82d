package vfio.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import vfio.api.device.Device;
import vfio.api.device.DeviceState;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Region;

/**
 * Hot-swap under load: while six threads do register I/O on a device (two on BAR0's mapped areas,
 * two on the part of BAR0 reached through the backend, two on BAR2, mapped whole), the backend bundle is stopped and started, updated, and
 * uninstalled and installed again. Every successful read must return a value the thread wrote, the only
 * failure allowed is {@link DeviceUnavailableException}, and the device must be bound again within
 * {@link #REBIND_BOUND} of the backend coming back.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HotSwapTest extends PlatformTestBase {
    static final Duration REBIND_BOUND = Duration.ofSeconds(5);
    private static final int CYCLES = 5;
    private static final String BACKEND_BUNDLE = "vfio.backend.memory";

    @Test
    public void devicesStayCorrectWhileTheBackendBundleIsStoppedUpdatedAndReinstalled() throws Exception {
        Device device = Devices.boundMemoryDevice(cm, context, "swap0");
        Region bar0 = device.region("bar0");
        assertEquals("BAR0 is mapped in its two sparse areas", 2, bar0.mappedRanges().size());

        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong ok = new AtomicLong();
        AtomicLong unavailable = new AtomicLong();
        ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
        List<Thread> workers = new ArrayList<>();
        // Offsets: two inside mapped areas (fast path), two in the hole between them (slow path).
        long[] offsets = {0x100, 0x8100, 0x4100, 0x4200};
        for (int t = 0; t < offsets.length; t++) {
            int id = t;
            long off = offsets[t];
            Thread w = new Thread(() -> hammer(bar0, id, off, stop, ok, unavailable, wrong), "io-" + t);
            workers.add(w);
            w.start();
        }
        // BAR2 is mapped whole: the core's fastest path, with its own check for a swap mid-access.
        Region bar2 = device.region(2);
        assertEquals("BAR2 is mapped as one area", 1, bar2.mappedRanges().size());
        for (long off : new long[] {0x100, 0xFF00}) {
            int id = workers.size();
            Thread w = new Thread(() -> hammer(bar2, id, off, stop, ok, unavailable, wrong), "io-" + id);
            workers.add(w);
            w.start();
        }

        Bundle backend = Devices.installed(context, BACKEND_BUNDLE);
        List<Long> rebindMs = new ArrayList<>();
        for (int cycle = 0; cycle < CYCLES; cycle++) {
            backend.stop();
            Devices.awaitState(device, DeviceState.UNBOUND, Duration.ofSeconds(5));
            long t0 = System.nanoTime();
            backend.start();
            Devices.awaitState(device, DeviceState.BOUND, REBIND_BOUND);
            rebindMs.add((System.nanoTime() - t0) / 1_000_000);

            t0 = System.nanoTime();
            backend.update();
            Devices.awaitState(device, DeviceState.BOUND, REBIND_BOUND);
            rebindMs.add((System.nanoTime() - t0) / 1_000_000);

            String location = backend.getLocation();
            backend.uninstall();
            Devices.awaitState(device, DeviceState.UNBOUND, Duration.ofSeconds(5));
            t0 = System.nanoTime();
            backend = context.installBundle(location);
            backend.start();
            Devices.awaitState(device, DeviceState.BOUND, REBIND_BOUND);
            rebindMs.add((System.nanoTime() - t0) / 1_000_000);
            Thread.sleep(50); // let the workers run on the new backend too
        }
        stop.set(true);
        for (Thread w : workers) {
            w.join(20_000);
            assertTrue(w.getName() + " is stuck", !w.isAlive());
        }
        Collections.sort(rebindMs);
        System.out.printf("hot-swap: %d swaps, rebind p50 %d ms, max %d ms; %d accesses ok, %d unavailable%n",
                rebindMs.size(), rebindMs.get(rebindMs.size() / 2), rebindMs.get(rebindMs.size() - 1), ok.get(),
                unavailable.get());
        assertEquals("wrong values or unexpected exceptions: " + wrong, List.of(), new ArrayList<>(wrong));
        assertTrue("the workers made progress", ok.get() > 1000);
        assertEquals("the device ends up bound", DeviceState.BOUND, device.state());
        assertEquals(2, bar0.mappedRanges().size());
    }

    /**
     * Writes increasing values to its own register and reads them back. A successful read must return
     * the last value whose write succeeded, or the value of a write that failed (it may have landed).
     */
    private static void hammer(Region r, int id, long off, AtomicBoolean stop, AtomicLong ok, AtomicLong unavailable,
            ConcurrentLinkedQueue<String> wrong) {
        int last = -1;
        int maybe = -1;
        int counter = 0;
        try {
            r.write32(off, last);
        } catch (DeviceUnavailableException e) {
            unavailable.incrementAndGet();
        }
        while (!stop.get()) {
            int value = (id << 24) | (++counter & 0xffffff);
            try {
                r.write32(off, value);
                last = value;
                maybe = value;
            } catch (DeviceUnavailableException e) {
                maybe = value;
                unavailable.incrementAndGet();
                continue;
            } catch (RuntimeException e) {
                wrong.add("write: " + e);
                return;
            }
            try {
                int read = r.read32(off);
                if (read != last && read != maybe) {
                    wrong.add(String.format("thread %d at 0x%x read 0x%08x, wrote 0x%08x", id, off, read, last));
                    return;
                }
                ok.incrementAndGet();
            } catch (DeviceUnavailableException e) {
                unavailable.incrementAndGet();
            } catch (RuntimeException e) {
                wrong.add("read: " + e);
                return;
            }
        }
    }

}
