package vfio.benchmarks;

import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import vfio.api.device.DeviceState;
import vfio.api.device.Region;

/**
 * Hot-swap latency in process (no OSGi framework: CoreDevice with backends registered and
 * unregistered by hand, as DS would on a bundle stop and start). Each swap: unregister the bound
 * memory backend, register a new one on the same memory, wait until BOUND with BAR0 mapped again.
 * Meanwhile one reader thread calls {@code read32} in a loop; the longest single call during each
 * swap is how long a caller was blocked.
 *
 * <pre>HotSwapLatencyBench SWAPS</pre>
 * Prints p50/p99/max in us of the swap time and of the longest blocked read per swap.
 */
public final class HotSwapLatencyBench {
    private HotSwapLatencyBench() {
    }

    public static void main(String[] args) throws Exception {
        int swaps = Integer.parseInt(args[0]);
        try (BenchDevice rig = new BenchDevice("swap-bench")) {
            long current = rig.bind("memory-0");
            rig.awaitBound();
            Region bar0 = rig.device.region(0);
            AtomicLong longestCall = new AtomicLong();
            AtomicLong reads = new AtomicLong();
            AtomicBoolean stop = new AtomicBoolean();
            Thread reader = new Thread(() -> {
                while (!stop.get()) {
                    long t0 = System.nanoTime();
                    bar0.read32(0x100);
                    long d = System.nanoTime() - t0;
                    longestCall.accumulateAndGet(d, Math::max);
                    reads.incrementAndGet();
                }
            }, "reader");
            reader.setDaemon(true);
            reader.start();
            long[] swap = new long[swaps];
            long[] blocked = new long[swaps];
            for (int i = -swaps / 10; i < swaps; i++) { // the first tenth warms up
                Thread.sleep(5);
                longestCall.set(0);
                long t0 = System.nanoTime();
                rig.unbind(current);
                current = rig.bind("memory-" + (i + swaps));
                awaitMapped(rig, bar0);
                long t1 = System.nanoTime();
                Thread.sleep(1); // let a blocked reader finish its call
                if (i >= 0) {
                    swap[i] = t1 - t0;
                    blocked[i] = longestCall.get();
                }
            }
            stop.set(true);
            reader.join(10_000);
            report("inproc-swap-stop-start", swap);
            report("inproc-swap-reader-blocked", blocked);
            System.out.println("reads during run " + reads.get());
        }
    }

    private static void awaitMapped(BenchDevice rig, Region bar0) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (rig.device.state() != DeviceState.BOUND || bar0.mappedRanges().isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("not BOUND with BAR0 mapped within 10 s: " + rig.device.stateReason());
            }
            Thread.onSpinWait();
        }
    }

    private static void report(String key, long[] v) {
        Arrays.sort(v);
        System.out.println(String.format(Locale.ROOT, "%s n %d p50-us %.0f p99-us %.0f max-us %.0f", key, v.length,
                v[v.length / 2] / 1e3, v[(int) (v.length * 0.99)] / 1e3, v[v.length - 1] / 1e3));
    }
}
