package vfio.backend.ioctl.internal.abi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;

class IrqSetEncoderTest {
    private static IrqSignal signal(int fd) {
        return new IrqSignal() {
            @Override
            public int fd() {
                return fd;
            }

            @Override
            public void signal() {
            }
        };
    }

    private static int[] ints(ByteBuffer b) {
        int[] v = new int[b.capacity() / 4];
        for (int i = 0; i < v.length; i++) {
            v[i] = b.order(ByteOrder.LITTLE_ENDIAN).getInt(4 * i);
        }
        return v;
    }

    @Test
    void enablingVectorsPassesOneEventfdPerVectorAndMinusOneForNone() {
        ByteBuffer b = IrqSetEncoder.encode(IrqSet.enable(2, Arrays.asList(signal(10), signal(11), null)));
        // argsz, flags = DATA_EVENTFD | ACTION_TRIGGER, index, start, count, fds
        assertThat(ints(b)).containsExactly(32, 4 | 32, 2, 0, 3, 10, 11, -1);
    }

    @Test
    void disablingAnIndexIsTriggerWithNoDataAndCountZero() {
        assertThat(ints(IrqSetEncoder.encode(IrqSet.disable(1)))).containsExactly(20, 1 | 32, 1, 0, 0);
    }

    @Test
    void maskUnmaskAndSoftwareTriggerOfOneVector() {
        assertThat(ints(IrqSetEncoder.encode(IrqSet.one(0, IrqSet.Action.MASK, 0)))).containsExactly(20, 1 | 8, 0, 0, 1);
        assertThat(ints(IrqSetEncoder.encode(IrqSet.one(0, IrqSet.Action.UNMASK, 0)))).containsExactly(20, 1 | 16, 0, 0, 1);
        assertThat(ints(IrqSetEncoder.encode(IrqSet.one(2, IrqSet.Action.TRIGGER, 4)))).containsExactly(20, 1 | 32, 2, 4, 1);
    }

    @Test
    void boolDataIsOneBytePerVector() {
        ByteBuffer b = IrqSetEncoder.encode(new IrqSet(2, IrqSet.Action.TRIGGER, 1, 3,
                new IrqSet.Data.Bools(new boolean[] {true, false, true})));
        assertThat(b.capacity()).isEqualTo(23);
        assertThat(b.order(ByteOrder.LITTLE_ENDIAN).getInt(0)).isEqualTo(23);
        assertThat(b.getInt(4)).isEqualTo(2 | 32);
        assertThat(b.getInt(12)).isEqualTo(1);
        assertThat(new byte[] {b.get(20), b.get(21), b.get(22)}).containsExactly(1, 0, 1);
    }

    @Test
    void aSignalWithoutDescriptorIsRefused() {
        assertThatThrownBy(() -> IrqSetEncoder.encode(IrqSet.enable(1, List.of(signal(-1)))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs eventfds");
    }
}
