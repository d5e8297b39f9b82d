package vfio.backend.apple.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import vfio.api.device.Pci;
import vfio.backend.apple.dext.Selector;
import vfio.backend.apple.sim.SimulatedDext.Call;

/** The config-space rules, checked call by call against the simulated dext's log. */
class ConfigSpaceTest {
    private SimRig rig;
    private AppleDeviceIoOps ops;

    @BeforeEach
    void open() throws Exception {
        rig = SimRig.edu(false, 1000);
        ops = rig.open();
        rig.sim.clearCalls();
    }

    @AfterEach
    void close() {
        rig.close();
    }

    private byte[] read(long offset, int size) {
        ByteBuffer b = ByteBuffer.allocate(size);
        ops.regionRead(Pci.REGION_CONFIG, offset, b);
        assertThat(b.remaining()).isZero();
        return b.array();
    }

    private void write(long offset, byte... bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        ops.regionWrite(Pci.REGION_CONFIG, offset, b, false);
        assertThat(b.remaining()).isZero();
    }

    private List<String> reads() {
        return rig.calls(Selector.CONFIG_READ).stream().map(c -> c.arg(0) + "/" + c.arg(1)).toList();
    }

    private List<String> writes() {
        return rig.calls(Selector.CONFIG_WRITE).stream()
                .map(c -> String.format("0x%02x/%d=0x%x", c.arg(0), c.arg(1), c.arg(2))).toList();
    }

    private byte[] device(int offset, int size) {
        byte[] all = rig.function().configSpace();
        byte[] out = new byte[size];
        System.arraycopy(all, offset, out, 0, size);
        return out;
    }

    @Test
    void readsOfOneTwoAndFourBytesAreOneConfigReadOfThatWidth() {
        for (int width : new int[] {1, 2, 4}) {
            for (int offset : new int[] {0x00, 0x02, 0x08, 0x3c}) {
                rig.sim.clearCalls();
                byte[] got = read(offset, width);
                assertThat(reads()).containsExactly(offset + "/" + width);
                assertThat(got).isEqualTo(device(offset, width));
            }
        }
        assertThat(ByteBuffer.wrap(read(0, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt()).isEqualTo(0x11e81234);
    }

    @Test
    void otherSizesAreSplitIntoFourByteThenOneByteReads() {
        byte[] got = read(0x08, 7);
        assertThat(reads()).containsExactly("8/4", "12/1", "13/1", "14/1");
        assertThat(got).isEqualTo(device(0x08, 7));

        rig.sim.clearCalls();
        got = read(0x00, 3);
        assertThat(reads()).containsExactly("0/1", "1/1", "2/1");
        assertThat(got).isEqualTo(device(0, 3));

        rig.sim.clearCalls();
        got = read(0x10, 8);
        assertThat(reads()).containsExactly("16/4", "20/4");
        assertThat(got).isEqualTo(device(0x10, 8));

        rig.sim.clearCalls();
        got = read(0x00, 64);
        assertThat(reads()).hasSize(16).allMatch(s -> s.endsWith("/4"));
        assertThat(got).isEqualTo(device(0, 64));
    }

    @Test
    void bytesAtAndPast4096ReadAsZeroWithoutACall() {
        byte[] got = read(4092, 8);
        assertThat(reads()).containsExactly("4092/4");
        assertThat(got).endsWith(0, 0, 0, 0);

        rig.sim.clearCalls();
        got = read(4094, 4);
        assertThat(reads()).containsExactly("4094/1", "4095/1");
        assertThat(got[2]).isZero();
        assertThat(got[3]).isZero();

        rig.sim.clearCalls();
        assertThat(read(4096, 4)).containsOnly(0);
        assertThat(reads()).isEmpty();
    }

    @Test
    void everySingleByteWriteIsForwardedUnlessItIsStatusOrABar() {
        for (int offset = 0; offset < 0x48; offset++) {
            rig.sim.clearCalls();
            byte before = rig.function().configSpace()[offset];
            byte value = (byte) (0xa5 ^ offset);
            write(offset, value);
            boolean dropped = offset == 0x06 || offset == 0x07 || (offset >= 0x10 && offset <= 0x27);
            if (dropped) {
                assertThat(writes()).as("byte 0x%02x", offset).isEmpty();
                assertThat(rig.function().configSpace()[offset]).as("byte 0x%02x", offset).isEqualTo(before);
            } else {
                assertThat(writes()).as("byte 0x%02x", offset)
                        .containsExactly(String.format("0x%02x/1=0x%x", offset, value & 0xff));
                assertThat(rig.function().configSpace()[offset]).isEqualTo(value);
            }
        }
    }

    @Test
    void commandBytesGoOneAtATimeAndStatusIsDropped() {
        write(0x04, (byte) 0x46, (byte) 0x01, (byte) 0xff, (byte) 0xff);
        assertThat(writes()).containsExactly("0x04/1=0x46", "0x05/1=0x1");
        assertThat(device(0x06, 2)).isEqualTo(new byte[] {0x10, 0x00}); // status untouched

        rig.sim.clearCalls();
        write(0x04, (byte) 0x06, (byte) 0x00);
        assertThat(writes()).containsExactly("0x04/1=0x6", "0x05/1=0x0");
    }

    @Test
    void aWriteAcrossTheBarsIsDroppedForTheBarBytesOnly() {
        byte[] bars = device(0x10, 0x18);
        byte[] data = new byte[0x20]; // 0x0c .. 0x2b
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (0x30 + i);
        }
        write(0x0c, data);
        assertThat(writes()).containsExactly("0x0c/4=0x33323130", "0x28/4=0x4f4e4d4c");
        assertThat(device(0x10, 0x18)).isEqualTo(bars);
    }

    @Test
    void otherWritesKeepTheirWidthWhenAlignedAndAreSplitAlignedOtherwise() {
        write(0x3c, (byte) 0x0b, (byte) 0x01);
        assertThat(writes()).containsExactly("0x3c/2=0x10b");

        rig.sim.clearCalls();
        write(0x40, (byte) 1, (byte) 2, (byte) 3, (byte) 4);
        assertThat(writes()).containsExactly("0x40/4=0x4030201");

        rig.sim.clearCalls();
        write(0x3d, (byte) 1, (byte) 2, (byte) 3, (byte) 4);
        assertThat(writes()).containsExactly("0x3d/1=0x1", "0x3e/2=0x302", "0x40/1=0x4");

        rig.sim.clearCalls();
        write(0x02, (byte) 0x11, (byte) 0x22, (byte) 0x33, (byte) 0x44, (byte) 0x55, (byte) 0x66, (byte) 0x77);
        // device id (one 2-byte write), command (1 + 1), status dropped, revision (1)
        assertThat(writes()).containsExactly("0x02/2=0x2211", "0x04/1=0x33", "0x05/1=0x44", "0x08/1=0x77");
    }

    @Test
    void writesAtAndPast4096AreDropped() {
        write(4094, (byte) 1, (byte) 2, (byte) 3, (byte) 4);
        assertThat(writes()).containsExactly("0xffe/2=0x201");
        rig.sim.clearCalls();
        write(4096, (byte) 1);
        assertThat(writes()).isEmpty();
    }

    @Test
    void msixTableSizeIsFoundByWalkingTheCapabilityList() throws Exception {
        // The simulated list is PM (0x40) -> MSI (0x50) -> MSI-X (0x70) with 8 entries.
        assertThat(ConfigSpace.msixTableSize(ops.session().dext())).isEqualTo(8);
        List<Call> walk = rig.calls(Selector.CONFIG_READ);
        assertThat(walk.stream().map(c -> c.arg(0)).toList()).contains(0x40L, 0x50L, 0x70L, 0x72L);
    }
}
