package vfio.backend.user.internal.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.user.protocol.SetIrqs;

/** Splitting one IRQ set into DEVICE_SET_IRQS messages (pure logic). */
class IrqMessagesTest {
    private static IrqSignal fd(int fd) {
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

    private static SetIrqs header(IrqMessages.Part p) {
        return new SetIrqs(p.body().getInt(0), p.body().getInt(4), p.body().getInt(8), p.body().getInt(12),
                p.body().getInt(16));
    }

    @Test
    void signalsAreCutIntoAllPresentAndAllAbsentRunsOfAtMostMaxFds() {
        List<IrqSignal> signals = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            signals.add(i == 3 || i == 4 ? null : fd(100 + i));
        }
        List<IrqMessages.Part> parts = IrqMessages.of(new IrqSet(2, IrqSet.Action.TRIGGER, 10, 7,
                new IrqSet.Data.Signals(signals)), 2);
        assertThat(parts).extracting(p -> header(p).start(), p -> header(p).count(), p -> Arrays.toString(p.fds()))
                .containsExactly(org.assertj.core.groups.Tuple.tuple(10, 2, "[100, 101]"),
                        org.assertj.core.groups.Tuple.tuple(12, 1, "[102]"),
                        org.assertj.core.groups.Tuple.tuple(13, 2, "[]"),
                        org.assertj.core.groups.Tuple.tuple(15, 2, "[105, 106]"));
        assertThat(parts).allSatisfy(p -> {
            assertThat(header(p).flags()).isEqualTo(SetIrqs.DATA_EVENTFD | SetIrqs.ACTION_TRIGGER);
            assertThat(header(p).argsz()).isEqualTo(SetIrqs.SIZE);
            assertThat(header(p).index()).isEqualTo(2);
            assertThat(p.body().remaining()).isEqualTo(SetIrqs.SIZE);
        });
    }

    @Test
    void boolsTravelAsBytesAfterTheFixedPart() {
        List<IrqMessages.Part> parts = IrqMessages.of(new IrqSet(1, IrqSet.Action.MASK, 0, 3,
                new IrqSet.Data.Bools(new boolean[] {true, false, true})), 8);
        assertThat(parts).hasSize(1);
        ByteBuffer b = parts.get(0).body();
        assertThat(header(parts.get(0))).isEqualTo(new SetIrqs(23, SetIrqs.DATA_BOOL | SetIrqs.ACTION_MASK, 1, 0, 3));
        assertThat(new byte[] {b.get(20), b.get(21), b.get(22)}).containsExactly(1, 0, 1);
        assertThat(parts.get(0).fds()).isEmpty();
    }

    @Test
    void disableAndSoftwareTriggerCarryNoData() {
        assertThat(header(IrqMessages.of(IrqSet.disable(2), 8).get(0)))
                .isEqualTo(new SetIrqs(20, SetIrqs.DATA_NONE | SetIrqs.ACTION_TRIGGER, 2, 0, 0));
        assertThat(header(IrqMessages.of(IrqSet.one(0, IrqSet.Action.UNMASK, 0), 8).get(0)))
                .isEqualTo(new SetIrqs(20, SetIrqs.DATA_NONE | SetIrqs.ACTION_UNMASK, 0, 0, 1));
    }

    @Test
    void anAllAbsentRangeIsOneMessageWhateverItsLength() {
        List<IrqSignal> none = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            none.add(null);
        }
        List<IrqMessages.Part> parts = IrqMessages.of(IrqSet.enable(2, none), 1);
        assertThat(parts).hasSize(1);
        assertThat(header(parts.get(0)).count()).isEqualTo(40);
        assertThat(parts.get(0).fds()).isEmpty();
    }

    @Test
    void aSignalWithoutDescriptorIsABug() {
        assertThatThrownBy(() -> IrqMessages.of(IrqSet.enable(1, List.of(fd(-1))), 8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no file descriptor");
    }
}
