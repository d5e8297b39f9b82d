package vfio.backend.apple.internal;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import vfio.backend.apple.dext.BarInfo;
import vfio.backend.apple.dext.BarMapping;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextIdentity;

/**
 * The one claimed connection to the dext instance of a host function, shared by every open device
 * on that function (reference-counted by {@link DextSessions}). It owns what belongs to the dext
 * connection rather than to one device: the BAR layout and the BAR mappings used for trapped access,
 * the interrupt vector count, the interrupt loop (the pending bitmap is per connection, so one reader),
 * the enable mask (the union of every device's routing) and the DMA registration keys.
 *
 * <p><b>Threading:</b> thread-safe. {@link #close()} is called by {@link DextSessions} once the last
 * device released it.
 */
final class DextSession {
    private static final Logger LOG = System.getLogger(DextSession.class.getName());
    private static final long KEY_BASE = 1L << 62;

    private final Bdf bdf;
    private final DextConnection dext;
    private final DextIdentity identity;
    private final List<Bar> bars;
    private final int msiVectors;
    private final int msixVectors;
    private final long waitMillis;
    private final List<IrqRouting> routings = new CopyOnWriteArrayList<>();
    private final Set<Long> dmaKeys = new HashSet<>();
    private long nextKey = KEY_BASE;
    private long[] sentMask = new long[4];
    private InterruptLoop loop;
    private boolean closed;

    private DextSession(Bdf bdf, DextConnection dext, DextIdentity identity, List<Bar> bars, int msiVectors,
            int msixVectors, long waitMillis) {
        this.bdf = bdf;
        this.dext = dext;
        this.identity = identity;
        this.bars = bars;
        this.msiVectors = msiVectors;
        this.msixVectors = msixVectors;
        this.waitMillis = waitMillis;
    }

    /**
     * Sets up a session on a connection that GetIdentity matched: Claim, the BAR layout (with the
     * session's own BAR mappings), SetupInterrupts and the MSI-X capability. On failure everything
     * mapped so far is unmapped; the caller closes the connection.
     */
    static DextSession start(Bdf bdf, DextConnection dext, DextIdentity identity, long waitMillis) throws DextException {
        dext.claim();
        List<Bar> bars = new ArrayList<>();
        try {
            layOutBars(dext, bdf, bars);
            int vectors;
            try {
                vectors = Math.min(dext.setupInterrupts(), DextConnection.VECTORS);
            } catch (DextException e) {
                if (e.meansGone()) {
                    throw e;
                }
                LOG.log(Level.WARNING, bdf + ": SetupInterrupts failed, the device gets no MSI vectors: " + e.getMessage());
                vectors = 0;
            }
            int msix = ConfigSpace.msixTableSize(dext);
            if (msix > DextConnection.VECTORS) {
                LOG.log(Level.INFO, bdf + ": MSI-X table has " + msix + " entries; the dext bitmap carries "
                        + DextConnection.VECTORS + ", so only those are offered");
                msix = DextConnection.VECTORS;
            }
            return new DextSession(bdf, dext, identity, List.copyOf(bars), vectors, msix, waitMillis);
        } catch (DextException | RuntimeException e) {
            unmapAll(dext, bars);
            throw e;
        }
    }

    private static void layOutBars(DextConnection dext, Bdf bdf, List<Bar> bars) throws DextException {
        boolean upperHalfNext = false;
        for (int i = 0; i < 6; i++) {
            if (upperHalfNext) {
                bars.add(new Bar(i, Bar.Kind.UPPER_HALF, 0, -1, false, null, null));
                upperHalfNext = false;
                continue;
            }
            // I/O and 64-bit are read from the BAR register itself (reads are never filtered).
            long reg = dext.configRead(ConfigSpace.BAR0 + 4 * i, 4);
            boolean io = (reg & 0x1) != 0;
            upperHalfNext = !io && (reg & 0x6) == 0x4;
            BarInfo info;
            int bar = i;
            try {
                info = dext.barInfo(bar);
            } catch (DextException e) {
                if (e.meansGone()) {
                    throw e;
                }
                LOG.log(Level.DEBUG, () -> bdf + ": GetBARInfo(" + bar + ") refused, treating BAR as empty: " + e.getMessage());
                info = new BarInfo(-1, 0, 0);
            }
            if (info.size() <= 0) {
                bars.add(new Bar(i, Bar.Kind.EMPTY, 0, -1, false, null, null));
            } else if (io) {
                bars.add(new Bar(i, Bar.Kind.IO, info.size(), info.memoryIndex(), false, null,
                        new BarWindow.ThroughDext(dext, i, info.memoryIndex(), info.size())));
            } else {
                bars.add(memoryBar(dext, bdf, i, info));
            }
        }
    }

    private static Bar memoryBar(DextConnection dext, Bdf bdf, int i, BarInfo info) throws DextException {
        BarMapping mapping;
        try {
            mapping = dext.mapBar(i, info.prefetchable());
        } catch (DextException e) {
            if (e.meansGone()) {
                throw e;
            }
            LOG.log(Level.INFO, bdf + ": BAR" + i + " cannot be mapped (" + e.getMessage()
                    + "); it is served through MMIORead/MMIOWrite and not offered for mapping");
            return new Bar(i, Bar.Kind.MEMORY, info.size(), info.memoryIndex(), info.prefetchable(), null,
                    new BarWindow.ThroughDext(dext, i, info.memoryIndex(), info.size()));
        }
        return new Bar(i, Bar.Kind.MEMORY, info.size(), info.memoryIndex(), info.prefetchable(), mapping,
                new BarWindow.Mapped(mapping, info.size()));
    }

    private static void unmapAll(DextConnection dext, List<Bar> bars) {
        for (Bar b : bars) {
            if (b.mapping() != null) {
                try {
                    dext.unmapBar(b.mapping());
                } catch (DextException e) {
                    LOG.log(Level.WARNING, "unmapping BAR" + b.index() + " failed: " + e.getMessage());
                }
            }
        }
    }

    Bdf bdf() {
        return bdf;
    }

    DextConnection dext() {
        return dext;
    }

    DextIdentity identity() {
        return identity;
    }

    /** @return BAR {@code index} (0-5) */
    Bar bar(int index) {
        return bars.get(index);
    }

    int msiVectors() {
        return msiVectors;
    }

    int msixVectors() {
        return msixVectors;
    }

    // ---- interrupts -----------------------------------------------------------------------------

    /** Adds a device's routing (its vectors are enabled by the next {@link #updateMask()}). */
    void addRouting(IrqRouting routing) {
        routings.add(routing);
    }

    /** Removes a device's routing; the caller then calls {@link #updateMask()}. */
    void removeRouting(IrqRouting routing) {
        routings.remove(routing);
    }

    /**
     * Sends the union of every routing's enable mask with SetIRQMask if it changed, and starts the
     * interrupt loop the first time a vector is enabled.
     */
    synchronized void updateMask() throws DextException {
        long[] mask = new long[4];
        for (IrqRouting r : routings) {
            long[] m = r.enableMask();
            for (int i = 0; i < 4; i++) {
                mask[i] |= m[i];
            }
        }
        if (!Arrays.equals(mask, sentMask)) {
            dext.setIrqMask(mask);
            sentMask = mask;
        }
        if (loop == null && !closed && (mask[0] | mask[1] | mask[2] | mask[3]) != 0) {
            loop = new InterruptLoop(dext, waitMillis, this::dispatch, "vfio-apple-irq-" + bdf);
            loop.start();
        }
    }

    private void dispatch(long[] bits) {
        for (int word = 0; word < bits.length; word++) {
            long w = bits[word];
            while (w != 0) {
                int vector = word * 64 + Long.numberOfTrailingZeros(w);
                w &= w - 1;
                for (IrqRouting r : routings) {
                    r.deliver(vector);
                }
            }
        }
    }

    /** @return the interrupt loop, or null if no vector was ever enabled (for tests) */
    synchronized InterruptLoop loop() {
        return loop;
    }

    // ---- DMA keys -------------------------------------------------------------------------------

    /**
     * Picks the RegisterDMARegion key: the requested IOVA if no registration of this connection uses
     * it (it is only a name; the bus address comes back from the dext), else a fresh one.
     */
    synchronized long reserveDmaKey(long hint) {
        long key = hint;
        while (dmaKeys.contains(key)) {
            key = nextKey++;
        }
        dmaKeys.add(key);
        return key;
    }

    synchronized void releaseDmaKey(long key) {
        dmaKeys.remove(key);
    }

    // ---- lifecycle ------------------------------------------------------------------------------

    /**
     * Ends the session: stops the interrupt loop, disables every vector, unmaps the BARs and closes the
     * connection (which drops the claim). Never throws.
     */
    void close() {
        InterruptLoop l;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            l = loop;
        }
        if (l != null) {
            l.stop();
        }
        try {
            dext.setIrqMask(new long[4]);
        } catch (DextException e) {
            LOG.log(Level.DEBUG, () -> bdf + ": clearing the IRQ mask at close failed: " + e.getMessage());
        }
        unmapAll(dext, bars);
        dext.close();
    }

    @Override
    public String toString() {
        return "dext session " + identity;
    }
}
