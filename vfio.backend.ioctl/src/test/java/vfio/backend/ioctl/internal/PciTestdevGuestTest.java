package vfio.backend.ioctl.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static vfio.backend.ioctl.internal.GuestSupport.*;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import vfio.api.backend.DeviceIoOps;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

/**
 * QEMU's pci-testdev (1b36:0005): its I/O-port BAR (BAR1, 256 bytes, not mappable) through the
 * slow path. Writing a test number to byte 0 selects a test; the test's header then reads back
 * byte by byte (u8 test, u8 width, u16 pad, u32 offset, u8 data, 3 pad, u32 count, name) and a
 * write of {@code data} at {@code offset} increments {@code count}.
 */
@Tag("guest")
class PciTestdevGuestTest {
    private static final int IO_BAR = 1;

    private DeviceIoOps ops;

    @BeforeEach
    void open() {
        ops = GuestSupport.open(IoctlBackendFactory.system(), "pci-testdev", address(TESTDEV_VENDOR, TESTDEV_DEVICE));
    }

    @AfterEach
    void close() {
        if (ops != null) {
            ops.close();
        }
    }

    @Test
    void ioPortBarIsReadAndWrittenThroughTheSlowPath() {
        RegionInfo io = ops.regionInfo(IO_BAR);
        assertThat(io.size()).isEqualTo(256);
        assertThat(io.has(RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE)).isTrue();
        assertThat(io.has(RegionInfo.FLAG_MMAP)).as("an I/O BAR cannot be mapped").isFalse();
        assertThat(ops.regionMap(io, List.of(new SparseArea(0, 256))))
                .isEmpty();

        write8(0, 0); // select the port-I/O test "no-eventfd"
        assertThat(name()).isEqualTo("portio-no-eventfd");
        int offset = read8(4) | read8(5) << 8 | read8(6) << 16 | read8(7) << 24;
        int data = read8(8);
        assertThat(read8(12)).as("count after selecting").isZero();

        write8(offset, data);
        write8(offset, data ^ 0xff); // does not match the data: not counted
        write8(offset, data);
        assertThat(read8(12)).as("count of matching writes").isEqualTo(2);
    }

    private String name() {
        StringBuilder s = new StringBuilder();
        for (int i = 16; i < 64; i++) {
            int c = read8(i);
            if (c == 0) {
                break;
            }
            s.append((char) c);
        }
        return s.toString();
    }

    private int read8(long offset) {
        ByteBuffer b = ByteBuffer.allocate(1);
        ops.regionRead(IO_BAR, offset, b);
        return Byte.toUnsignedInt(b.get(0));
    }

    private void write8(long offset, int value) {
        ops.regionWrite(IO_BAR, offset, ByteBuffer.wrap(new byte[] {(byte) value}), false);
    }
}
