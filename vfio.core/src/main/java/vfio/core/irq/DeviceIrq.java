package vfio.core.irq;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLongArray;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Irq;
import vfio.api.device.IrqHandler;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.core.session.BackendSession;
import vfio.core.session.SessionSource;
import vfio.posix.ErrnoException;

/**
 * One IRQ index of a device, the same object across rebinds. It remembers what a driver enabled
 * (vector count, handler, the signals, masked vectors) and applies it again to every new backend
 * ({@link #restore}); the signals stay the same, so a driver notices a swap at most as a pause.
 *
 * <p><b>Threading:</b> driver calls from any thread; state changes are serialized on this object,
 * and a backend call made on a driver's behalf runs inside the session gate, so the binder's {@link
 * #tearDown} and {@link #restore} never overlap one. Handlers run on the dispatcher thread.
 */
public final class DeviceIrq implements Irq {
    private static final System.Logger LOG = System.getLogger("vfio.core.irq");

    private final SessionSource device;
    private final IrqDispatcher dispatcher;
    private final int index;
    private final String name;
    private volatile IrqInfo info;
    /** Handler calls per vector; replaced by a larger copy if a backend reports more vectors. */
    private volatile AtomicLongArray counts;

    // Written under this, read by the dispatcher thread.
    private volatile Enable enabled;
    // Guarded by this.
    private BackendSession appliedIn;
    /** Signals of a disabled enable the backend may still hold; released by tearDown. */
    private Enable releaseAfterTearDown;

    /**
     * @param device     where backend sessions come from
     * @param dispatcher where signals come from
     * @param info       the IRQ index's info as first reported
     */
    public DeviceIrq(SessionSource device, IrqDispatcher dispatcher, IrqInfo info) {
        this.device = device;
        this.dispatcher = dispatcher;
        this.index = info.index();
        this.name = Pci.irqName(index);
        this.info = info;
        this.counts = new AtomicLongArray(info.count());
    }

    @Override
    public int index() {
        return index;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public IrqInfo info() {
        return info;
    }

    @Override
    public void enable(int count, IrqHandler handler) {
        Objects.requireNonNull(handler, "handler");
        checkCount(count);
        BackendSession s = device.enter(this);
        try {
            synchronized (this) {
                checkCount(count);
                Enable old = enabled;
                if (old != null) {
                    enabled = null;
                    disableIn(s);
                    closeSignals(old);
                }
                Enable e = new Enable(count, handler);
                try {
                    e.open(this);
                    enabled = e; // before the backend call: an interrupt may come at once
                    s.ops().setIrqs(IrqSet.enable(index, e.signalList()));
                    appliedIn = s;
                } catch (RuntimeException ex) {
                    enabled = null;
                    closeSignals(e);
                    throw ex;
                }
            }
        } catch (DeviceUnavailableException e) {
            throw s.lost(e);
        } finally {
            s.exit();
        }
    }

    @Override
    public void disable() {
        synchronized (this) {
            Enable e = enabled;
            if (e == null) {
                return;
            }
            enabled = null; // no handler call starts after this
            BackendSession s = appliedIn;
            if (s != null && s.enter()) {
                try {
                    disableIn(s);
                } finally {
                    s.exit();
                }
                closeSignals(e);
            } else if (s != null) {
                releaseAfterTearDown = e; // the binder is tearing s down and will disable it there
            } else {
                closeSignals(e);
            }
        }
    }

    /** Disables the index in session {@code s}; failures other than a lost peer are logged. */
    private void disableIn(BackendSession s) {
        if (appliedIn != s) {
            return;
        }
        appliedIn = null;
        try {
            s.ops().setIrqs(IrqSet.disable(index));
        } catch (DeviceUnavailableException e) {
            s.lost(e);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "backend " + s.backendId() + " failed to disable " + this + ": " + e.getMessage());
        }
    }

    @Override
    public int enabledCount() {
        Enable e = enabled;
        return e == null ? 0 : e.count;
    }

    @Override
    public void mask(int vector) {
        maskOrUnmask(vector, IrqSet.Action.MASK);
    }

    @Override
    public void unmask(int vector) {
        maskOrUnmask(vector, IrqSet.Action.UNMASK);
    }

    private void maskOrUnmask(int vector, IrqSet.Action action) {
        checkVector(vector);
        if (!info.has(IrqInfo.FLAG_MASKABLE)) {
            throw new NotSupportedException(this + " cannot be masked: the backend does not report it maskable");
        }
        BackendSession s = device.enter(this);
        try {
            synchronized (this) {
                checkVector(vector);
                s.ops().setIrqs(IrqSet.one(index, action, vector));
                Enable e = enabled;
                if (e != null) {
                    e.masked.set(vector, action == IrqSet.Action.MASK);
                }
            }
        } catch (DeviceUnavailableException e) {
            throw s.lost(e);
        } finally {
            s.exit();
        }
    }

    @Override
    public void trigger(int vector) {
        checkVector(vector);
        BackendSession s = device.enter(this);
        try {
            checkVector(vector);
            s.ops().setIrqs(IrqSet.one(index, IrqSet.Action.TRIGGER, vector));
        } catch (DeviceUnavailableException e) {
            throw s.lost(e);
        } finally {
            s.exit();
        }
    }

    @Override
    public long count(int vector) {
        AtomicLongArray c = counts;
        if (vector < 0) {
            throw new OutOfRangeException("vector " + vector + " of " + this + " is negative");
        }
        return vector < c.length() ? c.get(vector) : 0;
    }

    /** @return handler calls per vector, indexed by vector */
    public long[] counts() {
        AtomicLongArray c = counts;
        long[] r = new long[c.length()];
        for (int i = 0; i < r.length; i++) {
            r[i] = c.get(i);
        }
        return r;
    }

    private void checkCount(int count) {
        IrqInfo i = info;
        if (count < 1 || count > i.count()) {
            throw new OutOfRangeException("cannot enable " + count + " vectors of " + this + ": it has "
                    + i.count() + (i.count() == 1 ? " vector" : " vectors"));
        }
    }

    private void checkVector(int vector) {
        IrqInfo i = info;
        if (vector < 0 || vector >= i.count()) {
            throw new OutOfRangeException("vector " + vector + " is outside " + this + ", which has "
                    + i.count() + (i.count() == 1 ? " vector" : " vectors"));
        }
    }

    /** On the dispatcher thread. */
    private void fire(Enable e, int vector) {
        if (enabled != e) {
            return; // disabled or replaced since the signal fired
        }
        AtomicLongArray c = counts;
        if (vector < c.length()) {
            c.incrementAndGet(vector);
        }
        try {
            e.handler.interrupt(this, vector);
        } catch (RuntimeException | Error t) {
            LOG.log(Level.WARNING, "interrupt handler of " + this + " vector " + vector + " threw " + t, t);
        }
    }

    private void closeSignals(Enable e) {
        for (IrqDispatcher.Signal s : e.signals) {
            if (s != null) {
                s.close();
            }
        }
    }

    // ---------------------------------------------------------------- lifecycle (binder thread)

    /** Takes the IRQ info of a new session (before {@link #restore}). */
    public synchronized void setInfo(IrqInfo newInfo) {
        info = newInfo;
        if (newInfo.count() > counts.length()) {
            AtomicLongArray old = counts;
            AtomicLongArray bigger = new AtomicLongArray(newInfo.count());
            for (int i = 0; i < old.length(); i++) {
                bigger.set(i, old.get(i));
            }
            counts = bigger;
        }
    }

    /**
     * Applies the remembered enable (same signals) and masks to a new session. A refusal is logged
     * and leaves the index disabled on this backend; the driver's configuration is kept for the next.
     *
     * @throws DeviceUnavailableException if the backend is gone (the bind fails)
     */
    public synchronized void restore(BackendSession s) {
        Enable e = enabled;
        if (e == null) {
            return;
        }
        if (e.count > info.count()) {
            LOG.log(Level.WARNING, "backend " + s.backendId() + " reports " + info.count() + " vectors for " + this
                    + " but the driver enabled " + e.count + "; left disabled on this backend");
            return;
        }
        try {
            s.ops().setIrqs(IrqSet.enable(index, e.signalList()));
            appliedIn = s;
            for (int v = e.masked.nextSetBit(0); v >= 0; v = e.masked.nextSetBit(v + 1)) {
                s.ops().setIrqs(IrqSet.one(index, IrqSet.Action.MASK, v));
            }
        } catch (DeviceUnavailableException ex) {
            throw ex;
        } catch (RuntimeException ex) {
            LOG.log(Level.WARNING, "backend " + s.backendId() + " refused to re-enable " + this + ": "
                    + ex.getMessage() + "; its handler is not called until the next rebind");
        }
    }

    /** Disables what session {@code s} has enabled. Errors are logged. Signals stay for the next backend. */
    public synchronized void tearDown(BackendSession s) {
        disableIn(s);
        Enable r = releaseAfterTearDown;
        if (r != null) {
            releaseAfterTearDown = null;
            closeSignals(r);
        }
    }

    /** The device is going away: disables and releases everything. */
    public synchronized void close() {
        Enable e = enabled;
        enabled = null;
        BackendSession s = appliedIn;
        if (s != null && s.enter()) {
            try {
                disableIn(s);
            } finally {
                s.exit();
            }
        }
        if (e != null) {
            closeSignals(e);
        }
        if (releaseAfterTearDown != null) {
            closeSignals(releaseAfterTearDown);
            releaseAfterTearDown = null;
        }
    }

    @Override
    public String toString() {
        return "IRQ " + name + " of device " + device.deviceName();
    }

    /** What a driver enabled: remembered across rebinds. */
    private final class Enable {
        final int count;
        final IrqHandler handler;
        final IrqDispatcher.Signal[] signals;
        final BitSet masked = new BitSet();

        Enable(int count, IrqHandler handler) {
            this.count = count;
            this.handler = handler;
            this.signals = new IrqDispatcher.Signal[count];
        }

        void open(DeviceIrq irq) {
            for (int v = 0; v < count; v++) {
                int vector = v;
                try {
                    signals[v] = dispatcher.open(device.deviceName() + " " + name + "[" + v + "]",
                            () -> fire(this, vector));
                } catch (ErrnoException e) {
                    throw new DeviceException("cannot create the interrupt signal for vector " + v + " of " + irq
                            + ": " + e.getMessage(), e);
                }
            }
        }

        List<IrqSignal> signalList() {
            return new ArrayList<>(List.of(signals));
        }
    }
}
