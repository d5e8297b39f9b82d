package vfio.core.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import vfio.posix.MappedMemory;

/** Runs twice in the build: with raw loads (the default) and with -Dvfio.core.rawLoads=false. */
class RawLoadsTest {

    @Test
    void rawLoadsAreOnExactlyWhenTheJvmAllowsThemAndNobodySwitchedThemOff() {
        boolean wanted = Boolean.parseBoolean(System.getProperty("vfio.core.rawLoads", "true"));
        boolean allowed = Runtime.version().feature() < 24
                || "allow".equals(System.getProperty("sun.misc.unsafe.memory.access"));
        assertEquals(wanted && allowed, RawLoads.ENABLED);
    }

    @Test
    void loadsReadLittleEndianValuesOfEveryWidthAtTheirAddress() throws Exception {
        assumeTrue(RawLoads.ENABLED, "raw loads are off in this run");
        MappedMemory m = MappedMemory.anonymous(4096);
        try {
            ByteBuffer b = m.view().order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(16, 0x1122_3344_5566_7788L);
            long a = m.address() + 16;
            assertEquals(0x88, RawLoads.load8(a));
            assertEquals(0x66, RawLoads.load8(a + 2));
            assertEquals(0x7788, RawLoads.load16(a));
            assertEquals(0x5566_7788, RawLoads.load32(a));
            assertEquals(0x1122_3344, RawLoads.load32(a + 4));
            assertEquals(0x1122_3344_5566_7788L, RawLoads.load64(a));
        } finally {
            m.unmap();
        }
    }
}
