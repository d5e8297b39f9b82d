package vfio.backend.apple.internal;

import java.util.Arrays;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.backend.apple.dext.DextConnection;

/**
 * Which vector of which IRQ index goes to which {@link IrqSignal}, for one open device, and the dext
 * enable mask that follows from it: one bit per enabled MSI or MSI-X vector (bit = vector number),
 * bit 0 for INTx. set_irqs never passes anything to the dext but this mask.
 *
 * <p><b>Threading:</b> {@link #apply} and {@link #deliver} synchronise on this object, so once
 * {@link #apply} disabled a vector no delivery to its old signal is still running or starts later
 * (the core may close the signal then).
 */
final class IrqRouting {
    private final IrqSignal[][] routes = new IrqSignal[Pci.NUM_IRQS][];

    /**
     * @param msiCount  MSI vectors (from SetupInterrupts)
     * @param msixCount MSI-X vectors (from the MSI-X capability, at most 256)
     */
    IrqRouting(int msiCount, int msixCount) {
        routes[Pci.IRQ_INTX] = new IrqSignal[1];
        routes[Pci.IRQ_MSI] = new IrqSignal[msiCount];
        routes[Pci.IRQ_MSIX] = new IrqSignal[msixCount];
        routes[Pci.IRQ_ERR] = new IrqSignal[0];
        routes[Pci.IRQ_REQ] = new IrqSignal[0];
    }

    /**
     * Applies a {@code VFIO_DEVICE_SET_IRQS} request.
     *
     * @throws NotSupportedException for MASK and UNMASK (no index is maskable here)
     * @throws OutOfRangeException   for an index or vector this device does not have
     */
    synchronized void apply(IrqSet set) {
        if (set.index() >= routes.length) {
            throw new OutOfRangeException("IRQ index " + set.index() + " does not exist (a PCI device has " + Pci.NUM_IRQS + ")");
        }
        IrqSignal[] table = routes[set.index()];
        if (set.start() + (long) set.count() > table.length) {
            throw new OutOfRangeException("vectors " + set.start() + ".." + (set.start() + set.count() - 1) + " of "
                    + Pci.irqName(set.index()) + " do not exist (it has " + table.length + ")");
        }
        if (set.action() != IrqSet.Action.TRIGGER) {
            throw new NotSupportedException(set.action() + " of " + Pci.irqName(set.index())
                    + " is not supported by the Apple dext backend: its IRQ indexes are not maskable (no MASKABLE flag)");
        }
        if (set.data() instanceof IrqSet.Data.Signals s) {
            for (int i = 0; i < set.count(); i++) {
                table[set.start() + i] = s.signals().get(i);
            }
        } else if (set.data() instanceof IrqSet.Data.Bools b) {
            boolean[] v = b.values();
            for (int i = 0; i < set.count(); i++) {
                if (v[i]) {
                    fire(table[set.start() + i]);
                }
            }
        } else if (set.count() == 0) {
            Arrays.fill(table, null); // TRIGGER without data, count 0: disable the whole index
        } else {
            for (int i = 0; i < set.count(); i++) {
                fire(table[set.start() + i]); // TRIGGER without data: software trigger
            }
        }
    }

    /** @return a copy of the routes, for undoing a failed {@link #apply} */
    synchronized IrqSignal[][] snapshot() {
        IrqSignal[][] copy = new IrqSignal[routes.length][];
        for (int i = 0; i < routes.length; i++) {
            copy[i] = routes[i].clone();
        }
        return copy;
    }

    /** Restores routes taken with {@link #snapshot()}. */
    synchronized void restore(IrqSignal[][] saved) {
        for (int i = 0; i < routes.length; i++) {
            routes[i] = saved[i].clone();
        }
    }

    /** Disables everything (close). */
    synchronized void clear() {
        for (IrqSignal[] table : routes) {
            Arrays.fill(table, null);
        }
    }

    /** @return the dext enable mask: 4 words, bit v for each enabled MSI/MSI-X vector v, bit 0 for INTx */
    synchronized long[] enableMask() {
        long[] mask = new long[DextConnection.VECTORS / 64];
        if (routes[Pci.IRQ_INTX][0] != null) {
            mask[0] |= 1;
        }
        for (int index : new int[] {Pci.IRQ_MSI, Pci.IRQ_MSIX}) {
            IrqSignal[] table = routes[index];
            for (int v = 0; v < table.length && v < DextConnection.VECTORS; v++) {
                if (table[v] != null) {
                    mask[v >>> 6] |= 1L << (v & 63);
                }
            }
        }
        return mask;
    }

    /** Delivers pending bit {@code vector} to every index that routes it. */
    synchronized void deliver(int vector) {
        if (vector == 0) {
            fire(routes[Pci.IRQ_INTX][0]);
        }
        for (int index : new int[] {Pci.IRQ_MSI, Pci.IRQ_MSIX}) {
            IrqSignal[] table = routes[index];
            if (vector < table.length) {
                fire(table[vector]);
            }
        }
    }

    private static void fire(IrqSignal signal) {
        if (signal != null) {
            signal.signal();
        }
    }
}
