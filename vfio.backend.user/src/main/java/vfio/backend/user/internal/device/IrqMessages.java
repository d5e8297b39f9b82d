package vfio.backend.user.internal.device;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.user.protocol.SetIrqs;

/**
 * Turns one {@link IrqSet} into the {@code DEVICE_SET_IRQS} messages that carry it.
 *
 * <p>Event descriptors travel as SCM_RIGHTS, which cannot express "no descriptor for this vector",
 * and at most {@code max_msg_fds} go in one message. So, as QEMU does, the vectors are cut into runs
 * that are either all routed to a signal (one descriptor each) or all unrouted (no descriptors: the
 * server disables those vectors), and routed runs are cut again to the descriptor limit. Stateless.
 */
final class IrqMessages {
    /**
     * One message.
     *
     * @param body the request body ({@code vfio_irq_set} and any bool data), position 0
     * @param fds  the descriptors to send with it (owned by the core; not to be closed)
     */
    record Part(ByteBuffer body, int[] fds) {
    }

    private IrqMessages() {
    }

    /**
     * @param set    what to do
     * @param maxFds the negotiated max_msg_fds (at least 1)
     * @return the messages, in order; at least one
     * @throws IllegalArgumentException if a signal has no descriptor
     */
    static List<Part> of(IrqSet set, int maxFds) {
        int action = switch (set.action()) {
            case MASK -> SetIrqs.ACTION_MASK;
            case UNMASK -> SetIrqs.ACTION_UNMASK;
            case TRIGGER -> SetIrqs.ACTION_TRIGGER;
        };
        IrqSet.Data data = set.data();
        if (data instanceof IrqSet.Data.None) {
            return List.of(part(SetIrqs.DATA_NONE | action, set.index(), set.start(), set.count(), null, new int[0]));
        }
        if (data instanceof IrqSet.Data.Bools b) {
            boolean[] values = b.values();
            byte[] bytes = new byte[values.length];
            for (int i = 0; i < values.length; i++) {
                bytes[i] = (byte) (values[i] ? 1 : 0);
            }
            return List.of(part(SetIrqs.DATA_BOOL | action, set.index(), set.start(), set.count(), bytes, new int[0]));
        }
        List<IrqSignal> signals = ((IrqSet.Data.Signals) data).signals();
        int flags = SetIrqs.DATA_EVENTFD | action;
        if (signals.isEmpty()) {
            return List.of(part(flags, set.index(), set.start(), 0, null, new int[0]));
        }
        List<Part> parts = new ArrayList<>();
        int at = 0;
        while (at < signals.size()) {
            boolean routed = signals.get(at) != null;
            int limit = routed ? Math.max(1, maxFds) : Integer.MAX_VALUE;
            int n = 0;
            while (at + n < signals.size() && n < limit && (signals.get(at + n) != null) == routed) {
                n++;
            }
            int[] fds = new int[routed ? n : 0];
            for (int i = 0; i < fds.length; i++) {
                int fd = signals.get(at + i).fd();
                if (fd < 0) {
                    throw new IllegalArgumentException("the IRQ signal for vector " + (set.start() + at + i)
                            + " of index " + set.index() + " has no file descriptor; vfio-user needs one");
                }
                fds[i] = fd;
            }
            parts.add(part(flags, set.index(), set.start() + at, n, null, fds));
            at += n;
        }
        return parts;
    }

    private static Part part(int flags, int index, int start, int count, byte[] bools, int[] fds) {
        int size = SetIrqs.SIZE + (bools == null ? 0 : bools.length);
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        // argsz covers the fixed part and bool data; descriptors are not part of the payload.
        new SetIrqs(size, flags, index, start, count).encode(b);
        b.position(SetIrqs.SIZE);
        if (bools != null) {
            b.put(bools);
        }
        return new Part(b.flip(), fds);
    }
}
