package vfio.api.backend;

import java.util.Arrays;
import java.util.List;

/**
 * One {@code VFIO_DEVICE_SET_IRQS} request: apply {@code action} to vectors {@code start ..
 * start+count-1} of IRQ index {@code index}, with {@code data}.
 *
 * <p>As in VFIO: {@link Action#TRIGGER} with {@link Data.Signals} enables the vectors and routes
 * them to the signals (a null signal disables that vector); {@link Action#TRIGGER} with {@link
 * Data.None} and {@code count == 0} disables the whole index; {@link Action#TRIGGER} with {@link
 * Data.None} and {@code count > 0} fires the vectors from software; {@link Action#MASK} and {@link
 * Action#UNMASK} with {@link Data.None} or {@link Data.Bools} mask or unmask.
 *
 * @param index  IRQ index
 * @param action what to do
 * @param start  first vector
 * @param count  number of vectors
 * @param data   the data; for {@link Data.Bools} and {@link Data.Signals} its length equals {@code count}
 */
public record IrqSet(int index, Action action, int start, int count, Data data) {
    /** {@code VFIO_IRQ_SET_ACTION_*}. */
    public enum Action {
        MASK, UNMASK, TRIGGER
    }

    /** {@code VFIO_IRQ_SET_DATA_*}. */
    public sealed interface Data {
        /** No data: the action applies to every vector of the range. */
        record None() implements Data {
        }

        /** One flag per vector: the action applies to the vectors whose flag is true. */
        record Bools(boolean[] values) implements Data {
            public Bools {
                values = values.clone();
            }

            @Override
            public boolean[] values() {
                return values.clone();
            }

            @Override
            public boolean equals(Object o) {
                return o instanceof Bools b && Arrays.equals(values, b.values);
            }

            @Override
            public int hashCode() {
                return Arrays.hashCode(values);
            }
        }

        /** One signal per vector (null: none); only with {@link Action#TRIGGER} (and UNMASK as VFIO allows). */
        record Signals(List<IrqSignal> signals) implements Data {
            public Signals {
                signals = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(signals));
            }
        }
    }

    /**
     * @throws IllegalArgumentException if the fields are inconsistent
     */
    public IrqSet {
        if (index < 0 || start < 0 || count < 0 || action == null || data == null) {
            throw new IllegalArgumentException(
                    "bad IRQ set: index=" + index + " start=" + start + " count=" + count + " action=" + action);
        }
        int dataCount = data instanceof Data.Bools b ? b.values().length
                : data instanceof Data.Signals s ? s.signals().size() : count;
        if (dataCount != count) {
            throw new IllegalArgumentException("IRQ set data has " + dataCount + " entries for count " + count);
        }
    }

    /** Enables vectors {@code 0..signals.size()-1} of {@code index}, routed to {@code signals}. */
    public static IrqSet enable(int index, List<IrqSignal> signals) {
        return new IrqSet(index, Action.TRIGGER, 0, signals.size(), new Data.Signals(signals));
    }

    /** Disables every vector of {@code index}. */
    public static IrqSet disable(int index) {
        return new IrqSet(index, Action.TRIGGER, 0, 0, new Data.None());
    }

    /** Applies {@code action} with no data to one vector. */
    public static IrqSet one(int index, Action action, int vector) {
        return new IrqSet(index, action, vector, 1, new Data.None());
    }
}
