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
 * <p>Two layouts: {@code whole} is BAR2, mapped as one area (a fully mapped BAR), {@code sparse} is
 * BAR0, mapped in two areas around a trapped hole. Offset {@value #OFFSET} lies in BAR2 and in
 * BAR0's first mapped area [0, 0x4000), which starts at region offset 0 (no lookup in either);
 * {@value #LATER} ({@code *Later}) lies in BAR0's second area [0x8000, 0x10000), which the core
 * has to look up.
 *
 * <p>Ablations, not product paths: {@code guard*} is the raw access plus only the safety mechanism
 * of the API's fast path (read a volatile reference to the mapping, access, read it again and
 * compare); {@code unsafeRead32} is a load by address through {@code sun.misc.Unsafe}, the
 * primitive the core's mapped reads use where the JVM allows it (vfio.core's RawLoads), so the
 * API's cost can be told from the primitive's.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class MappedAccessBench {
    static final int OFFSET = 0x100;
    static final int LATER = 0x8100;
    private static final sun.misc.Unsafe UNSAFE = unsafe();
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private BenchDevice rig;
    private Region bar;
    private ByteBuffer raw;
    /** The raw buffer behind a volatile field: the ablation step between raw and the API. */
    private volatile ByteBuffer guarded;
    private long rawAddress;
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
        rawAddress = com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(raw));
        bar.write32(OFFSET, 0x5eed);
        bar.write32(LATER, 0x1a7e);
        if ((int) INT.getVolatile(raw, OFFSET) != 0x5eed || (int) INT.getVolatile(raw, LATER) != 0x1a7e
                || UNSAFE.getIntVolatile(null, rawAddress + OFFSET) != 0x5eed) {
            throw new IllegalStateException("the raw mapping does not see " + bar + ": the baseline would measure other memory");
        }
    }

    private static sun.misc.Unsafe unsafe() {
        try {
            java.lang.reflect.Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Where the memory backend keeps BAR2 in its state file (after BAR0, BAR1 and config space). */
    static final long BAR2_FILE_OFFSET = 0x10000 + 0x1000 + 0x1000;

    /** Maps 64 KiB of the memory backend's state file at a BAR's offset: the same pages the region maps. */
    static ByteBuffer mapStore(String name, long fileOffset) throws IOException {
        try (FileChannel ch = FileChannel.open(Path.of("/dev/shm/vfio-memory", name), StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            return ch.map(FileChannel.MapMode.READ_WRITE, fileOffset, 0x10000).order(ByteOrder.LITTLE_ENDIAN);
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
    public int apiRead32Later() {
        return bar.read32(LATER);
    }

    @Benchmark
    public int rawRead32Later() {
        return (int) INT.getVolatile(raw, LATER);
    }

    @Benchmark
    public int unsafeRead32() {
        return UNSAFE.getIntVolatile(null, rawAddress + OFFSET);
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
}
