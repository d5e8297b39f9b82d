package vfio.benchmarks;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
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
import vfio.api.device.Region;

/**
 * The mapped fast path: 4- and 8-byte reads and writes through {@link Region} (vfio.core's
 * DeviceRegion on a mapped BAR of the memory backend) against a raw {@link VarHandle} with the same
 * ordering (getVolatile/setVolatile) on a mapping of the very same shared memory file.
 *
 * <p>Two layouts: {@code whole} is BAR2, mapped as one area (a fully mapped BAR: the core's fastest
 * path), {@code sparse} is BAR0, mapped in two areas around a trapped hole (the core looks up the
 * area).
 *
 * <p>The {@code guard*} benchmarks are an ablation, not a product path: the raw access plus only the
 * safety mechanism of the API's fast path (read a volatile reference to the mapping, access, read it
 * again and compare), without the offset lookup and range checks, to attribute the API's cost.
 *
 * <p>Offset {@value #OFFSET} lies in BAR2 and in BAR0's first mapped area [0, 0x4000).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class MappedAccessBench {
    static final int OFFSET = 0x100;
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private BenchDevice rig;
    private Region bar;
    private ByteBuffer raw;
    /** The raw buffer behind a volatile field: the ablation step between raw and the API. */
    private volatile ByteBuffer guarded;
    private int value;

    /** Which BAR: see the class comment. */
    @Param({"whole", "sparse"})
    public String layout;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        rig = new BenchDevice("jmh-mapped");
        rig.bind("memory-a");
        rig.awaitBound();
        boolean whole = layout.equals("whole");
        bar = rig.device.region(whole ? 2 : 0);
        if (bar.mappedRanges().size() != (whole ? 1 : 2)) {
            throw new IllegalStateException(bar + " is mapped as " + bar.mappedRanges() + ", not as the " + layout
                    + " layout: the benchmark would measure something else");
        }
        raw = mapStore("jmh-mapped", whole ? BAR2_FILE_OFFSET : 0);
        guarded = raw;
        bar.write32(OFFSET, 0x5eed);
        if ((int) INT.getVolatile(raw, OFFSET) != 0x5eed) {
            throw new IllegalStateException("the raw mapping does not see " + bar + ": the baseline would measure other memory");
        }
    }

    /** Where the memory backend keeps BAR2 in its state file (after BAR0, BAR1 and config space). */
    static final long BAR2_FILE_OFFSET = 0x10000 + 0x1000 + 0x1000;

    /** Maps 16 KiB of the memory backend's state file at a BAR's offset: the same pages the region maps. */
    static ByteBuffer mapStore(String name, long fileOffset) throws IOException {
        try (FileChannel ch = FileChannel.open(Path.of("/dev/shm/vfio-memory", name), StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            return ch.map(FileChannel.MapMode.READ_WRITE, fileOffset, 0x4000).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        rig.close();
    }

    @Benchmark
    public int apiRead32() {
        return bar.read32(OFFSET);
    }

    @Benchmark
    public int rawRead32() {
        return (int) INT.getVolatile(raw, OFFSET);
    }

    @Benchmark
    public long apiRead64() {
        return bar.read64(OFFSET);
    }

    @Benchmark
    public long rawRead64() {
        return (long) LONG.getVolatile(raw, OFFSET);
    }

    @Benchmark
    public void apiWrite32() {
        bar.write32(OFFSET, ++value);
    }

    @Benchmark
    public void rawWrite32() {
        INT.setVolatile(raw, OFFSET, ++value);
    }

    @Benchmark
    public void apiWrite64() {
        bar.write64(OFFSET, ++value);
    }

    @Benchmark
    public void rawWrite64() {
        LONG.setVolatile(raw, OFFSET, (long) ++value);
    }

    @Benchmark
    public int guardRead32() {
        ByteBuffer b = guarded;
        int v = (int) INT.getVolatile(b, OFFSET);
        return guarded == b ? v : -1;
    }

    @Benchmark
    public int guardWrite32() {
        ByteBuffer b = guarded;
        INT.setVolatile(b, OFFSET, ++value);
        return guarded == b ? 0 : -1;
    }
}
