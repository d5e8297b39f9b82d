package vfio.user.server.internal;

import java.lang.System.Logger.Level;
import java.util.List;
import vfio.api.device.IrqInfo;
import vfio.api.device.Pci;
import vfio.posix.Errno;
import vfio.posix.ErrnoException;
import vfio.posix.EventFd;
import vfio.posix.Fd;
import vfio.user.server.Interrupts;

/**
 * Interrupt state of a device: the client's eventfds per vector, masks, pending interrupts and the
 * INTx level. Implements the VFIO SET_IRQS semantics of the Linux vfio-pci driver (one index with
 * eventfds at a time, INTx automasked) and the {@link Interrupts} controls for device code.
 *
 * <p>Threading: every method is synchronized; eventfd writes are non-blocking (the eventfds were
 * checked to be non-blocking when received), so holding the lock while signalling is fine.
 */
public final class IrqState implements Interrupts {
    private static final System.Logger LOG = System.getLogger(IrqState.class.getName());

    private static final class Vector {
        EventFd trigger;
        boolean masked;
        boolean pending;
    }

    private final ConfigSpace config;
    private final Vector[][] vectors = new Vector[Pci.NUM_IRQS][];
    private boolean intxLevel;
    private long dropped;

    IrqState(Definition d, ConfigSpace config) {
        this.config = config;
        int[] counts = {d.intx() ? 1 : 0, d.msiVectors(), d.msix().map(Definition.Msix::vectors).orElse(0), 0, 0};
        for (int i = 0; i < counts.length; i++) {
            vectors[i] = new Vector[counts[i]];
            for (int v = 0; v < counts[i]; v++) {
                vectors[i][v] = new Vector();
            }
        }
    }

    /** @return the IRQ info of {@code index} (0-4) */
    IrqInfo info(int index) {
        int count = vectors[index].length;
        int flags = 0;
        if (count > 0) {
            flags = IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE;
            if (index == Pci.IRQ_INTX) {
                flags |= IrqInfo.FLAG_AUTOMASKED;
            } else if (index == Pci.IRQ_MSI) {
                flags |= IrqInfo.FLAG_NORESIZE;
            }
        }
        return new IrqInfo(index, flags, count);
    }

    /** @return the number of vectors of {@code index} */
    int count(int index) {
        return vectors[index].length;
    }

    /**
     * Assigns eventfds to {@code [start, start + fds.size())}, replacing (and closing) previous
     * ones; the eventfds are owned by this object afterwards.
     *
     * @throws Refused EINVAL if another index has eventfds (disable it first, as with vfio-pci)
     */
    synchronized void assign(int index, int start, List<Fd> fds) throws Refused {
        int active = activeIndex();
        if (active >= 0 && active != index) {
            throw new Refused(Errno.EINVAL, Pci.irqName(index) + " cannot get eventfds while " + Pci.irqName(active)
                    + " is enabled; disable it first");
        }
        for (int i = 0; i < fds.size(); i++) {
            Vector v = vectors[index][start + i];
            if (v.trigger != null) {
                v.trigger.close();
            }
            v.trigger = EventFd.adopt(fds.get(i));
        }
    }

    /** Closes the eventfds of {@code [start, start + count)}. */
    synchronized void deassign(int index, int start, int count) {
        for (int i = start; i < start + count; i++) {
            Vector v = vectors[index][i];
            if (v.trigger != null) {
                v.trigger.close();
                v.trigger = null;
            }
            v.pending = false;
        }
    }

    /** Disables a whole index (SET_IRQS with DATA_NONE, TRIGGER, count 0): closes its eventfds, clears masks. */
    synchronized void disable(int index) {
        deassign(index, 0, vectors[index].length);
        for (Vector v : vectors[index]) {
            v.masked = false;
        }
    }

    /** SET_IRQS ACTION_MASK for the selected vectors. */
    synchronized void mask(int index, int start, boolean[] selected) {
        for (int i = 0; i < selected.length; i++) {
            if (selected[i]) {
                vectors[index][start + i].masked = true;
            }
        }
    }

    /** SET_IRQS ACTION_UNMASK for the selected vectors: delivers what is pending. */
    synchronized void unmask(int index, int start, boolean[] selected) {
        for (int i = 0; i < selected.length; i++) {
            if (!selected[i]) {
                continue;
            }
            Vector v = vectors[index][start + i];
            v.masked = false;
            if (index == Pci.IRQ_INTX) {
                if (intxLevel) {
                    fireIntx(v);
                }
            } else if (v.pending) {
                v.pending = false;
                signal(v, index, start + i);
            }
        }
    }

    /** SET_IRQS ACTION_TRIGGER with DATA_NONE/BOOL: the client raises the interrupt itself. */
    synchronized void clientTrigger(int index, int start, boolean[] selected) {
        for (int i = 0; i < selected.length; i++) {
            if (!selected[i]) {
                continue;
            }
            Vector v = vectors[index][start + i];
            if (index == Pci.IRQ_INTX) {
                fireIntx(v);
            } else if (v.masked) {
                v.pending = true;
            } else {
                signal(v, index, start + i);
            }
        }
    }

    @Override
    public synchronized boolean trigger(int index, int vector) {
        if (index != Pci.IRQ_MSI && index != Pci.IRQ_MSIX) {
            throw new IllegalArgumentException("trigger() sends MSI or MSI-X interrupts; index " + index
                    + " is not one (use setIntx for INTx)");
        }
        Vector v = vector(index, vector);
        if (activeIndex() != index || v.trigger == null || !config.busMaster()) {
            dropped++;
            return false;
        }
        if (v.masked) {
            v.pending = true;
            return false;
        }
        return signal(v, index, vector);
    }

    @Override
    public synchronized void setIntx(boolean asserted) {
        if (vectors[Pci.IRQ_INTX].length == 0) {
            throw new IllegalStateException("the device has no INTx line");
        }
        Vector v = vectors[Pci.IRQ_INTX][0];
        boolean rising = asserted && !intxLevel;
        intxLevel = asserted;
        config.setInterruptStatus(asserted);
        if (!asserted) {
            v.pending = false;
        } else if (rising) {
            fireIntx(v);
        }
    }

    /** Delivers an INTx that waited for the INTx-disable bit to clear (after a config write). */
    synchronized void configChanged() {
        if (vectors[Pci.IRQ_INTX].length > 0 && intxLevel && vectors[Pci.IRQ_INTX][0].pending) {
            fireIntx(vectors[Pci.IRQ_INTX][0]);
        }
    }

    private void fireIntx(Vector v) {
        if (v.masked || v.trigger == null || config.intxDisabled()) {
            v.pending = true;
            return;
        }
        v.pending = false;
        if (signal(v, Pci.IRQ_INTX, 0)) {
            v.masked = true; // automasked until the client unmasks
        }
    }

    private boolean signal(Vector v, int index, int vector) {
        if (v.trigger == null) {
            dropped++;
            return false;
        }
        try {
            v.trigger.signal();
            return true;
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "cannot signal the client's eventfd of " + Pci.irqName(index) + " vector " + vector, e);
            return false;
        }
    }

    @Override
    public synchronized boolean intxAsserted() {
        return intxLevel;
    }

    @Override
    public synchronized int activeIndex() {
        for (int i = 0; i < vectors.length; i++) {
            for (Vector v : vectors[i]) {
                if (v.trigger != null) {
                    return i;
                }
            }
        }
        return -1;
    }

    @Override
    public synchronized boolean isMasked(int index, int vector) {
        return vector(index, vector).masked;
    }

    @Override
    public synchronized boolean isPending(int index, int vector) {
        return vector(index, vector).pending;
    }

    /** @return how many interrupts were dropped (no eventfd, wrong mode, bus mastering off) */
    public synchronized long dropped() {
        return dropped;
    }

    /** Device reset: clears masks, pending interrupts and the INTx level; keeps the eventfds. */
    synchronized void reset() {
        intxLevel = false;
        for (Vector[] index : vectors) {
            for (Vector v : index) {
                v.masked = false;
                v.pending = false;
            }
        }
    }

    /** Closes every eventfd (the client went away). */
    synchronized void closeAll() {
        for (int i = 0; i < vectors.length; i++) {
            deassign(i, 0, vectors[i].length);
        }
    }

    private Vector vector(int index, int vector) {
        if (index < 0 || index >= vectors.length || vector < 0 || vector >= vectors[index].length) {
            throw new IllegalArgumentException("the device has no " + (index >= 0 && index < Pci.NUM_IRQS
                    ? Pci.irqName(index) : "IRQ index " + index) + " vector " + vector);
        }
        return vectors[index][vector];
    }
}
