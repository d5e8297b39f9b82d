package vfio.benchmarks;

import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import vfio.api.device.Irq;
import vfio.api.device.Pci;
import vfio.core.irq.IrqDispatcher;

/**
 * Interrupt latency: from the moment an interrupt is raised to the Java handler running on the
 * core's dispatcher thread (vfio.core's EpollIrqDispatcher: one epoll over eventfds).
 *
 * <ul>
 * <li>{@code dispatcher}: an eventfd write ({@link IrqDispatcher.Signal#signal()}) to the signal's
 * target running. The C peer is irq_latency.c.</li>
 * <li>{@code device}: {@link Irq#trigger} on MSI vector 0 of a CoreDevice on the memory backend (the
 * backend writes the eventfd it was given) to the driver's {@link vfio.api.device.IrqHandler}
 * running; includes the driver-API call into the backend.</li>
 * </ul>
 *
 * Between samples the raiser sleeps ~200 us, so the dispatcher thread is asleep in epoll_wait when
 * each interrupt comes (as a real device's interrupts mostly find it). Prints p50/p99/max in us.
 *
 * <pre>IrqLatencyBench SAMPLES</pre>
 */
public final class IrqLatencyBench {
    private static volatile long handled;

    private IrqLatencyBench() {
    }

    public static void main(String[] args) throws Exception {
        int samples = Integer.parseInt(args[0]);
        try (IrqDispatcher dispatcher = IrqDispatcher.create()) {
            try (IrqDispatcher.Signal signal = dispatcher.open("bench", () -> handled = System.nanoTime())) {
                measure("dispatcher", samples / 5, signal::signal);
                report("java-irq-dispatcher", measure("dispatcher", samples, signal::signal));
            }
        }
        try (BenchDevice rig = new BenchDevice("irq-bench")) {
            rig.bind("memory-irq");
            rig.awaitBound();
            Irq msi = rig.device.irq(Pci.IRQ_MSI);
            msi.enable(1, (irq, vector) -> handled = System.nanoTime());
            measure("device", samples / 5, () -> msi.trigger(0));
            report("java-irq-device", measure("device", samples, () -> msi.trigger(0)));
            msi.disable();
        }
    }

    private static long[] measure(String what, int samples, Runnable raise) {
        long[] lat = new long[samples];
        for (int i = 0; i < samples; i++) {
            LockSupport.parkNanos(200_000);
            long before = handled;
            long t0 = System.nanoTime();
            raise.run();
            long deadline = t0 + 1_000_000_000L;
            long t1;
            while ((t1 = handled) == before) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(what + ": handler did not run within 1 s of sample " + i);
                }
                Thread.onSpinWait();
            }
            lat[i] = t1 - t0;
        }
        return lat;
    }

    private static void report(String key, long[] lat) {
        Arrays.sort(lat);
        System.out.println(String.format(Locale.ROOT, "%s p50-us %.1f p99-us %.1f max-us %.1f", key,
                lat[lat.length / 2] / 1e3, lat[(int) (lat.length * 0.99)] / 1e3, lat[lat.length - 1] / 1e3));
    }
}
