package vfio.backend.ioctl.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static vfio.backend.ioctl.internal.GuestSupport.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.MappedArea;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.backend.ioctl.internal.kernel.KernelFile;
import vfio.posix.MappedMemory;

/**
 * Prints what a 4-byte register read of edu costs through pread and through the mapping, for the
 * record (no timing assertion: the numbers are TCG's and vary with the host's load). Benchmarks
 * proper are a separate issue.
 */
@Tag("guest")
class AccessCostGuestTest {
    private static final int ROUNDS = 20_000;
    /** Under TCG the JIT needs several passes to compile the loops; the last pass is the steady state. */
    private static final int PASSES = 10;

    @Test
    void preadAndMappedReadCosts() throws Exception {
        try (DeviceIoOps ops = GuestSupport.open(IoctlBackendFactory.system(), "edu", address(EDU_VENDOR, EDU_DEVICE))) {
            ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.LITTLE_ENDIAN);
            long sum = 0;
            for (int warm = 0; warm < PASSES; warm++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < ROUNDS; i++) {
                    b.clear();
                    ops.regionRead(0, 0, b);
                    sum += b.getInt(0);
                }
                long preadNs = (System.nanoTime() - t0) / ROUNDS;
                if (warm == PASSES - 1) {
                    System.out.println("edu 4-byte read through pread: " + preadNs + " ns per read (TCG guest)");
                }
            }
            // The same pread without the backend (vfio.posix and JNA only): what JNA costs per call
            // is this minus C's pread; what the backend adds is the regionRead figure minus this.
            KernelFile device = ((IoctlDeviceOps) ops).deviceFile();
            long bar0Offset = ops.regionInfo(0).offset();
            for (int warm = 0; warm < PASSES; warm++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < ROUNDS; i++) {
                    b.clear();
                    device.pread(b, bar0Offset);
                    sum += b.getInt(0);
                }
                long bareNs = (System.nanoTime() - t0) / ROUNDS;
                if (warm == PASSES - 1) {
                    System.out.println("edu 4-byte read through a bare pread (vfio.posix, no backend): " + bareNs
                            + " ns per read (TCG guest)");
                }
            }
            RegionInfo bar0 = ops.regionInfo(0);
            List<MappedArea> areas = ops.regionMap(bar0, List.of(new SparseArea(0, bar0.size())));
            MappedMemory m = MappedMemory.adopt(areas.get(0).address(), areas.get(0).size());
            try {
                ByteBuffer view = m.view();
                for (int warm = 0; warm < PASSES; warm++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ROUNDS; i++) {
                        sum += view.getInt(0);
                    }
                    long mapNs = (System.nanoTime() - t0) / ROUNDS;
                    if (warm == PASSES - 1) {
                        System.out.println("edu 4-byte read through the mapping: " + mapNs + " ns per read (TCG guest)");
                    }
                }
            } finally {
                m.revoke();
                ops.regionUnmap(0, areas);
                m.unmap();
            }
            assertThat(sum).isEqualTo(3L * PASSES * ROUNDS * 0x010000ed);
        }
    }
}
