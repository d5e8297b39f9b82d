package vfio.backend.ioctl.internal.abi;

import static vfio.backend.ioctl.internal.abi.VfioAbi.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;

/** Encodes an {@link IrqSet} as {@code struct vfio_irq_set} with its data. Stateless, thread-safe. */
public final class IrqSetEncoder {
    private IrqSetEncoder() {
    }

    /**
     * @param set the request
     * @return the struct, {@code argsz} bytes in native (little-endian) order, position 0
     * @throws IllegalArgumentException if a signal has no file descriptor (this backend hands
     *                                  descriptors to the kernel)
     */
    public static ByteBuffer encode(IrqSet set) {
        int action = switch (set.action()) {
            case MASK -> VFIO_IRQ_SET_ACTION_MASK;
            case UNMASK -> VFIO_IRQ_SET_ACTION_UNMASK;
            case TRIGGER -> VFIO_IRQ_SET_ACTION_TRIGGER;
        };
        int dataFlag;
        int dataSize;
        if (set.data() instanceof IrqSet.Data.Bools) {
            dataFlag = VFIO_IRQ_SET_DATA_BOOL;
            dataSize = set.count();
        } else if (set.data() instanceof IrqSet.Data.Signals) {
            dataFlag = VFIO_IRQ_SET_DATA_EVENTFD;
            dataSize = 4 * set.count();
        } else {
            dataFlag = VFIO_IRQ_SET_DATA_NONE;
            dataSize = 0;
        }
        ByteBuffer b = ByteBuffer.allocate(IRQ_SET_SIZE + dataSize).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, IRQ_SET_SIZE + dataSize);
        b.putInt(IRQ_SET_FLAGS, dataFlag | action);
        b.putInt(IRQ_SET_INDEX, set.index());
        b.putInt(IRQ_SET_START, set.start());
        b.putInt(IRQ_SET_COUNT, set.count());
        if (set.data() instanceof IrqSet.Data.Bools bools) {
            boolean[] v = bools.values();
            for (int i = 0; i < v.length; i++) {
                b.put(IRQ_SET_DATA + i, (byte) (v[i] ? 1 : 0));
            }
        } else if (set.data() instanceof IrqSet.Data.Signals signals) {
            List<IrqSignal> s = signals.signals();
            for (int i = 0; i < s.size(); i++) {
                int fd = -1;
                if (s.get(i) != null) {
                    fd = s.get(i).fd();
                    if (fd < 0) {
                        throw new IllegalArgumentException("IRQ signal for vector " + (set.start() + i) + " of index "
                                + set.index() + " has no file descriptor; the Linux VFIO backend needs eventfds");
                    }
                }
                b.putInt(IRQ_SET_DATA + 4 * i, fd);
            }
        }
        return b;
    }
}
