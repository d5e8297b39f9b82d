package vfio.core.region;

import java.lang.System.Logger.Level;
import java.lang.reflect.Field;
import java.nio.ByteOrder;

/**
 * Volatile loads from mapped region memory by address: the mapped read path's cheapest primitive.
 *
 * <p>Why not a {@code ByteBuffer} {@code VarHandle}: it re-reads the buffer's limit, address,
 * backing array and segment on every access, which made a mapped {@code read32} 1.4x the cost of a
 * bare VarHandle access even with nothing else in the way (docs/benchmarks.md §1). Here the caller
 * has already placed the access inside a chunk of its {@link MappedView} and aligned it, which is
 * what makes a load by address safe; the view keeps the pages (or their placeholder) mapped for as
 * long as the caller holds it.
 *
 * <p>Loads only, never a store: a stray store into a read-only mapping would crash the JVM, a load
 * cannot do more than read the placeholder, which the callers detect.
 *
 * <p>Uses {@code sun.misc.Unsafe} only where the JVM allows it silently: Java 17 to 23, and Java
 * 24+ started with {@code --sun-misc-unsafe-memory-access=allow} (the {@code platform} script passes
 * it). Anywhere else, or with {@code -Dvfio.core.rawLoads=false}, {@link #ENABLED} is false and
 * callers use VarHandles. It is a constant, so the JIT keeps only one of the two paths.
 */
final class RawLoads {
    /** Whether {@link #load32} and its siblings may be called. */
    static final boolean ENABLED;
    private static final sun.misc.Unsafe UNSAFE;
    private static final boolean LITTLE = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    static {
        sun.misc.Unsafe u = null;
        String why = null;
        if (!Boolean.parseBoolean(System.getProperty("vfio.core.rawLoads", "true"))) {
            why = "-Dvfio.core.rawLoads=false";
        } else if (Runtime.version().feature() >= 24
                && !"allow".equals(System.getProperty("sun.misc.unsafe.memory.access"))) {
            why = "Java " + Runtime.version().feature() + " without --sun-misc-unsafe-memory-access=allow";
        } else {
            try {
                Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
                f.setAccessible(true);
                u = (sun.misc.Unsafe) f.get(null);
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                why = "sun.misc.Unsafe is not available (" + e + ")";
            }
        }
        UNSAFE = u;
        ENABLED = u != null;
        if (!ENABLED) {
            // Said once, at INFO where the operator can change it: Java 24+ without the flag.
            boolean flagMissing = why.startsWith("Java");
            System.getLogger("vfio.core.region").log(flagMissing ? Level.INFO : Level.DEBUG,
                    "mapped reads use VarHandles (" + why + "), about 0.5 ns more per read than raw loads"
                            + (flagMissing ? "; start the JVM with --sun-misc-unsafe-memory-access=allow to use them" : ""));
        }
    }

    private RawLoads() {
    }

    // Device registers are little-endian (PCI); the reversals fold away on little-endian hosts.

    static int load8(long address) {
        return UNSAFE.getByteVolatile(null, address) & 0xff;
    }

    static int load16(long address) {
        short v = UNSAFE.getShortVolatile(null, address);
        return (LITTLE ? v : Short.reverseBytes(v)) & 0xffff;
    }

    static int load32(long address) {
        int v = UNSAFE.getIntVolatile(null, address);
        return LITTLE ? v : Integer.reverseBytes(v);
    }

    static long load64(long address) {
        long v = UNSAFE.getLongVolatile(null, address);
        return LITTLE ? v : Long.reverseBytes(v);
    }
}
