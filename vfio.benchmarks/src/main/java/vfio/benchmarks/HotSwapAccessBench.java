package vfio.benchmarks;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Region;

/**
 * The mapped fast path while a background thread rebinds the device every {@code swapMs} ms (unbind
 * the backend, bind a fresh one on the same memory). Accesses that arrive while nothing is bound
 * wait for the next backend, so the average includes those waits; {@code swapMs = 0} means no swaps
 * (the same code path, same JVM flags, as a baseline).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Benchmark)
public class HotSwapAccessBench {
    @Param({"0", "10"})
    public int swapMs;

    private BenchDevice rig;
    private Region bar0;
    private Thread swapper;
    private volatile boolean stop;
    /** Number of rebinds done during the trial, printed at tear-down. */
    final AtomicLong swaps = new AtomicLong();
    /** Writes that raced with an unmap and threw. */
    final AtomicLong racedWrites = new AtomicLong();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        rig = new BenchDevice("jmh-swap");
        long first = rig.bind("memory-0");
        rig.awaitBound();
        bar0 = rig.device.region(2); // mapped whole: the fastest path, whose race check is tested here
        if (swapMs > 0) {
            swapper = new Thread(() -> swapLoop(first), "rebinder");
            swapper.setDaemon(true);
            swapper.start();
        }
    }

    private void swapLoop(long first) {
        long current = first;
        try {
            while (!stop) {
                Thread.sleep(swapMs);
                rig.unbind(current);
                current = rig.bind("memory-" + swaps.incrementAndGet());
                rig.awaitBound();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        stop = true;
        if (swapper != null) {
            swapper.join(10_000);
            System.out.println("rebinds during trial: " + swaps.get() + ", writes that raced with an unmap: "
                    + racedWrites.get());
        }
        rig.close();
    }

    @Benchmark
    public int read32() {
        return bar0.read32(MappedAccessBench.OFFSET);
    }

    /**
     * A write that races with an unmap throws (the Region contract: it may or may not have reached
     * the device); a driver would check and write again. Counted, and printed at tear-down.
     */
    @Benchmark
    public void write32() {
        try {
            bar0.write32(MappedAccessBench.OFFSET, 42);
        } catch (DeviceUnavailableException e) {
            racedWrites.incrementAndGet();
        }
    }
}
