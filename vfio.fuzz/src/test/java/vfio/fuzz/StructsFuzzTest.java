package vfio.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import vfio.api.backend.VfioStructs;
import vfio.api.device.RegionInfo;

/**
 * The structs both backends decode from a peer: {@code vfio_region_info} with its capability chain
 * (ioctl replies and vfio-user REGION_INFO replies), {@code vfio_device_info} and {@code
 * vfio_irq_info}. Only {@code DeviceException}s may come out; a decoded region must be consistent
 * (its encoding decodes to the same value).
 */
class StructsFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void regionInfo(byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        Findings.refusalAllowed(() -> VfioStructs.regionInfoArgsz(b.duplicate(), "fuzz"));
        // Callers ask for an index they checked (0 or more): the reply's index when it is one, so that
        // the decoder gets past its index check.
        int index = data.length >= 12 ? Math.max(0, ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getInt(8)) : 0;
        Findings.refusalAllowed(() -> {
            RegionInfo info = VfioStructs.decodeRegionInfo(b.duplicate(), index, "fuzz");
            // A region this decoder accepted must survive its own encoding (compared as bytes: an
            // unknown capability's body is an array, which records compare by identity).
            byte[] once = encode(info);
            RegionInfo back = VfioStructs.decodeRegionInfo(ByteBuffer.wrap(once).order(ByteOrder.LITTLE_ENDIAN), index,
                    "re-encode");
            if (!Arrays.equals(once, encode(back))) {
                throw new AssertionError("re-encoding changed the region: " + info + " became " + back);
            }
        });
    }

    private static byte[] encode(RegionInfo info) {
        int size = VfioStructs.regionInfoSize(info);
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        VfioStructs.encodeRegionInfo(info, b, size);
        return b.array();
    }

    @FuzzTest(maxDuration = "20s")
    void deviceAndIrqInfo(byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        Findings.refusalAllowed(() -> VfioStructs.decodeDeviceInfo(b.duplicate(), "fuzz"));
        int index = data.length >= 12 ? Math.max(0, Math.min(1023, b.getInt(8))) : 0;
        Findings.refusalAllowed(() -> VfioStructs.decodeIrqInfo(b.duplicate(), index, "fuzz"));
        Findings.refusalAllowed(() -> VfioStructs.decodeIrqInfo(b.duplicate(), index + 1, "fuzz"));
    }
}
