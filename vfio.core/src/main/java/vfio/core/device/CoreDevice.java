package vfio.core.device;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.OpenRequest;
import vfio.api.device.Device;
import vfio.api.device.DeviceEvent;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.DeviceState;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.DmaBuffer;
import vfio.api.device.Irq;
import vfio.api.device.IrqInfo;
import vfio.api.device.NotSupportedException;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.Pci;
import vfio.api.device.Region;
import vfio.api.device.RegionInfo;
import vfio.core.device.BackendRanking.Ranked;
import vfio.core.dma.DeviceDma;
import vfio.core.irq.DeviceIrq;
import vfio.core.irq.IrqDispatcher;
import vfio.core.region.DeviceRegion;
import vfio.core.session.BackendSession;
import vfio.core.session.SessionSource;

/**
 * A configured device and its binding logic, without OSGi: the DS component feeds it backend
 * candidates and settings, and it does the rest on its own binder thread.
 *
 * <p><b>Binding.</b> Every change (a backend added, modified or removed, new settings, a backend
 * call that found the peer gone, a retry timer) marks the device dirty and wakes the binder
 * thread, which then reconciles: it ranks the candidates that pass the target filter ({@link
 * BackendRanking}), leaves the current backend if it is gone, lost, no longer matches, or (greedy
 * policy) a better one exists, and opens the best candidate if none is open, falling back to the
 * next on failure. Events coalesce, so a burst of service changes costs one reconcile. A failed
 * open makes the device {@link DeviceState#FAILED}; it is retried at once when backends change and
 * otherwise after a backoff of 1, 2, 4 ... 30 s.
 *
 * <p><b>Teardown</b> (in this order): state UNBOUND at once (new accesses wait); mapped views
 * withdrawn; the session gate drained of in-flight backend calls (up to the access timeout); each
 * mapped region revoked and then unmapped by the backend; IRQs disabled; DMA unmapped; the
 * operations closed. <b>Setup</b>: open, read infos, map regions, re-apply remembered IRQ enables
 * (same signals), map DMA buffers again (telling drivers if an IOVA changed), publish the mappings
 * and the session, then BOUND and waiters resume.
 *
 * <p><b>Threading:</b> the driver API from any thread; {@link #addBackend}, {@link #updateBackend},
 * {@link #removeBackend}, {@link #update} and {@link #close} from any thread (DS callbacks);
 * backend {@code open}, setup and teardown only on the binder thread. State change events are
 * delivered on the binder thread, in order.
 */
public final class CoreDevice implements Device, SessionSource {
    private static final System.Logger LOG = System.getLogger("vfio.core.device");
    /** More region or IRQ indexes than this is taken for a broken backend. */
    static final int MAX_INDEXES = 256;
    private static final long FIRST_BACKOFF_MS = 1000;
    private static final long MAX_BACKOFF_MS = 30_000;

    private final IrqDispatcher dispatcher;
    private final Consumer<DeviceEvent> events;
    private final Map<Long, BackendCandidate> candidates = new ConcurrentHashMap<>();
    private final Object lock = new Object();
    private final DeviceDma dma;
    private final Thread binder;

    private volatile DeviceSettings settings;
    /** The published session: accesses go through it. Null while unbound. */
    private volatile BackendSession session;
    /** Bind count; see {@link Device#generation()}. Written under {@code lock}. */
    private volatile long generation;
    private volatile Status status;
    private volatile DeviceInfo info;
    private volatile DeviceRegion[] regions = new DeviceRegion[0];
    private volatile DeviceIrq[] irqs = new DeviceIrq[0];

    // Guarded by lock.
    private boolean dirty = true;
    private boolean closed;
    private long busyServiceId = -1;
    private int failures;
    private long retryAtNanos;

    // Binder thread only.
    private BackendSession open;
    private DeviceSettings openSettings;

    /**
     * A device's state as one immutable value.
     *
     * @param state     the state
     * @param reason    why, in a sentence
     * @param backendId the bound backend, null unless bound
     * @param since     when the state was entered
     */
    public record Status(DeviceState state, String reason, String backendId, Instant since) {
    }

    /**
     * @param settings   the validated configuration
     * @param dispatcher where IRQ signals come from
     * @param events     told of every state change, on the binder thread; must not block
     */
    public CoreDevice(DeviceSettings settings, IrqDispatcher dispatcher, Consumer<DeviceEvent> events) {
        this.settings = settings;
        this.dispatcher = dispatcher;
        this.events = events;
        this.dma = new DeviceDma(this);
        this.status = new Status(DeviceState.UNBOUND, "waiting for a backend", null, Instant.now());
        this.binder = new Thread(this::runBinder, "vfio-binder-" + settings.name());
        this.binder.setDaemon(true);
    }

    /** Starts the binder thread. Call once, after the device can be announced. */
    public void start() {
        binder.start();
    }

    // ---------------------------------------------------------------- inputs (any thread)

    /** A backend factory appeared. */
    public void addBackend(BackendCandidate candidate) {
        candidates.put(candidate.serviceId(), candidate);
        wake();
    }

    /** A backend factory's service properties changed (it may match differently now). */
    public void updateBackend(BackendCandidate candidate) {
        candidates.put(candidate.serviceId(), candidate);
        wake();
    }

    /**
     * A backend factory is going away. If the device is bound to it (or opening it), waits until the
     * binder has torn that session down, so the backend is still intact while the core unmaps,
     * disables and closes; the wait is bounded (twice the access timeout plus a second) and logged
     * when exceeded.
     */
    public void removeBackend(long serviceId) {
        candidates.remove(serviceId);
        synchronized (lock) {
            dirty = true;
            lock.notifyAll();
            if (Thread.currentThread() == binder) {
                return; // the backend unregistered itself from inside one of our calls
            }
            long wait = settings.accessTimeout().multipliedBy(2).plusSeconds(1).toNanos();
            long deadline = System.nanoTime() + wait;
            boolean interrupted = false;
            while (busyServiceId == serviceId && binder.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    LOG.log(Level.WARNING, "device " + name() + ": backend service " + serviceId
                            + " is leaving but the device could not be torn down within "
                            + TimeUnit.NANOSECONDS.toMillis(wait) + " ms; letting it go anyway");
                    break;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** New settings (the configuration was modified); takes effect at the next reconcile. */
    public void update(DeviceSettings newSettings) {
        settings = newSettings;
        wake();
    }

    /** @return the current settings */
    public DeviceSettings settings() {
        return settings;
    }

    /** @return the backend candidates currently known (for the shell) */
    public Collection<BackendCandidate> candidates() {
        return List.copyOf(candidates.values());
    }

    private void wake() {
        synchronized (lock) {
            dirty = true;
            lock.notifyAll();
        }
    }

    /**
     * Removes the device: stops the binder (which tears the binding down), then disables every IRQ
     * and frees every DMA buffer drivers left behind. Accesses fail from now on. Waits at most twice
     * the access timeout plus a second for the binder.
     */
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            lock.notifyAll();
        }
        if (Thread.currentThread() != binder && binder.isAlive()) {
            try {
                binder.join(settings.accessTimeout().multipliedBy(2).plusSeconds(1).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (binder.isAlive()) {
                LOG.log(Level.WARNING, "device " + name() + ": the binder is still busy with a backend call;"
                        + " it releases the backend when the call returns");
            }
        }
        for (DeviceIrq irq : irqs) {
            irq.close();
        }
        dma.closeAll();
    }

    // ---------------------------------------------------------------- SessionSource

    @Override
    public String deviceName() {
        return settings.name();
    }

    @Override
    public BackendSession current() {
        return session;
    }

    @Override
    public BackendSession enter(Object operation) {
        BackendSession s = session;
        if (s != null && s.enter()) {
            return s;
        }
        // Listeners and service events run on the binder thread; waiting there for a binding would
        // only wait for ourselves.
        long timeout = Thread.currentThread() == binder ? 0 : settings.accessTimeout().toNanos();
        long deadline = System.nanoTime() + timeout;
        synchronized (lock) {
            for (;;) {
                if (closed) {
                    throw new DeviceUnavailableException("device " + name() + " was removed; " + operation
                            + " is not possible");
                }
                s = session;
                if (s != null && s.enter()) {
                    return s;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    Status st = status;
                    throw new DeviceUnavailableException("device " + name() + " has had no backend for "
                            + TimeUnit.NANOSECONDS.toMillis(timeout) + " ms (" + st.state() + ": " + st.reason()
                            + "); gave up on " + operation);
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new DeviceUnavailableException("interrupted while " + operation + " waited for device "
                            + name() + " to be bound", e);
                }
            }
        }
    }

    // ---------------------------------------------------------------- Device

    @Override
    public String name() {
        return settings.name();
    }

    @Override
    public String address() {
        return settings.address();
    }

    @Override
    public DeviceState state() {
        return status.state();
    }

    @Override
    public String stateReason() {
        return status.reason();
    }

    /** @return the state, reason, backend and time of the last change, as one value */
    public Status status() {
        return status;
    }

    @Override
    public Optional<String> backendId() {
        return Optional.ofNullable(status.backendId());
    }

    @Override
    public long generation() {
        return generation;
    }

    @Override
    public boolean awaitBound(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (session == null && !closed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return session != null;
        }
    }

    @Override
    public DeviceInfo info() {
        return boundOnce();
    }

    /** @return the device info of the current or last backend, without waiting; empty if never bound */
    public Optional<DeviceInfo> knownInfo() {
        return Optional.ofNullable(info);
    }

    @Override
    public List<Region> regions() {
        boundOnce();
        DeviceRegion[] r = regions;
        int n = info.numRegions();
        return List.of(Arrays.copyOf(r, Math.min(n, r.length), Region[].class));
    }

    @Override
    public Region region(int index) {
        DeviceInfo i = boundOnce();
        DeviceRegion[] r = regions;
        if (index < 0 || index >= i.numRegions() || index >= r.length) {
            throw new OutOfRangeException("device " + name() + " has no region " + index + " (it has "
                    + i.numRegions() + ": 0.." + (i.numRegions() - 1) + ")");
        }
        return r[index];
    }

    @Override
    public Region region(String name) {
        return region(Pci.regionIndex(name));
    }

    @Override
    public Irq irq(int index) {
        DeviceInfo i = boundOnce();
        DeviceIrq[] q = irqs;
        if (index < 0 || index >= i.numIrqs() || index >= q.length) {
            throw new OutOfRangeException("device " + name() + " has no IRQ index " + index + " (it has "
                    + i.numIrqs() + ")");
        }
        return q[index];
    }

    @Override
    public DmaBuffer allocateDma(long size, long maxIova) {
        return dma.allocate(size, maxIova);
    }

    @Override
    public void reset() {
        BackendSession s = enter("reset");
        try {
            if (!s.info().canReset()) {
                throw new NotSupportedException("device " + name() + " cannot be reset: backend " + s.backendId()
                        + " does not report the RESET flag");
            }
            s.ops().reset();
        } catch (DeviceUnavailableException e) {
            throw s.lost(e);
        } finally {
            s.exit();
        }
    }

    /** @return the device info, waiting up to the access timeout for the first bind */
    private DeviceInfo boundOnce() {
        DeviceInfo i = info;
        if (i != null) {
            return i;
        }
        if (Thread.currentThread() != binder) {
            try {
                awaitBound(settings.accessTimeout());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        i = info;
        if (i == null) {
            Status st = status;
            throw new DeviceUnavailableException("device " + name() + " has never been bound to a backend ("
                    + st.state() + ": " + st.reason() + ")");
        }
        return i;
    }

    // ---------------------------------------------------------------- binder thread

    private void runBinder() {
        try {
            for (;;) {
                synchronized (lock) {
                    while (!dirty && !closed && !retryDue()) {
                        long waitMs = retryAtNanos == 0 ? 0
                                : Math.max(1, TimeUnit.NANOSECONDS.toMillis(retryAtNanos - System.nanoTime()));
                        lock.wait(waitMs);
                    }
                    if (closed) {
                        break;
                    }
                    dirty = false;
                    retryAtNanos = 0;
                }
                try {
                    reconcile();
                } catch (RuntimeException | Error e) {
                    // A bug, not a backend failure (those are handled inside): report, retry later.
                    LOG.log(Level.ERROR, "device " + name() + ": binding failed unexpectedly", e);
                    setStatus(DeviceState.FAILED, "internal error while binding: " + e);
                    scheduleRetry();
                }
            }
        } catch (InterruptedException e) {
            // only close() stops us; fall through to teardown
        } finally {
            if (open != null) {
                tearDown(open, "device " + name() + " was removed");
            }
            synchronized (lock) {
                busyServiceId = -1;
                lock.notifyAll();
            }
        }
    }

    private boolean retryDue() {
        return retryAtNanos != 0 && System.nanoTime() - retryAtNanos >= 0;
    }

    private void scheduleRetry() {
        synchronized (lock) {
            failures++;
            long backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS << Math.min(failures - 1, 16));
            retryAtNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff);
            if (retryAtNanos == 0) {
                retryAtNanos = 1;
            }
        }
    }

    private void reconcile() {
        DeviceSettings cfg = settings;
        List<BackendCandidate> known = List.copyOf(candidates.values());
        List<Ranked> ranked = rank(cfg, known);
        String left = null;
        if (open != null) {
            left = reasonToLeave(cfg, ranked);
            if (left == null) {
                return;
            }
            tearDown(open, left);
        }
        bind(cfg, known, ranked, left);
    }

    /** @return the candidates that pass the target filter, with their match, best first */
    private static List<Ranked> rank(DeviceSettings cfg, List<BackendCandidate> known) {
        org.osgi.framework.Filter filter = cfg.targetFilter();
        List<BackendCandidate> eligible = new ArrayList<>();
        for (BackendCandidate c : known) {
            if (filter.matches(c.properties())) {
                eligible.add(c);
            }
        }
        return BackendRanking.rank(eligible, cfg.address());
    }

    /** @return why the open session must be left, or null to stay */
    private String reasonToLeave(DeviceSettings cfg, List<Ranked> ranked) {
        BackendSession s = open;
        String id = s.backendId();
        if (s.lostReason() != null) {
            return "backend " + id + " stopped answering: " + s.lostReason();
        }
        if (!candidates.containsKey(s.serviceId())) {
            return "backend " + id + " went away";
        }
        if (!cfg.address().equals(openSettings.address()) || !cfg.options().equals(openSettings.options())) {
            return "the device's address or backend options changed";
        }
        Ranked mine = null;
        for (Ranked r : ranked) {
            if (r.candidate().serviceId() == s.serviceId()) {
                mine = r;
            }
        }
        if (mine == null) {
            return "backend " + id + " no longer passes the target filter " + cfg.backendTarget();
        }
        if (!mine.match().matches()) {
            return "backend " + id + " can no longer serve " + cfg.address() + ": " + mine.match().reason();
        }
        if (cfg.rebindPolicy() == RebindPolicy.GREEDY && !ranked.isEmpty()) {
            Ranked best = ranked.get(0);
            if (best != mine && best.match().matches() && BackendRanking.BEST_FIRST.compare(best, mine) < 0) {
                return "backend " + best.describe() + " is a better match than " + mine.describe();
            }
        }
        return null;
    }

    /** @param left why the previous backend was just left (kept in the new reason), or null */
    private void bind(DeviceSettings cfg, List<BackendCandidate> known, List<Ranked> ranked, String left) {
        List<Ranked> usable = new ArrayList<>();
        for (Ranked r : ranked) {
            if (r.match().matches()) {
                usable.add(r);
            }
        }
        if (usable.isEmpty()) {
            String why = noBackendReason(cfg, known, ranked);
            setStatus(DeviceState.UNBOUND, left == null ? why : left + "; " + why);
            return;
        }
        List<String> errors = new ArrayList<>();
        for (Ranked r : usable) {
            if (isClosed()) {
                return;
            }
            if (!candidates.containsKey(r.candidate().serviceId())) {
                continue; // left since we ranked
            }
            try {
                openOn(cfg, r);
                synchronized (lock) {
                    failures = 0;
                }
                return;
            } catch (RuntimeException e) {
                String msg = e.getMessage() != null ? e.getMessage() : e.toString();
                errors.add(r.candidate().id() + ": " + msg);
                LOG.log(Level.WARNING, "device " + name() + ": cannot open " + cfg.address() + " on backend "
                        + r.candidate().id() + ": " + msg, e instanceof DeviceException ? null : e);
            }
        }
        scheduleRetry();
        long seconds;
        synchronized (lock) {
            seconds = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(retryAtNanos - System.nanoTime() + 500_000_000L));
        }
        setStatus(DeviceState.FAILED, "could not open " + cfg.address() + " (" + String.join("; ", errors)
                + "); retrying in " + seconds + " s or when a backend changes");
    }

    private static String noBackendReason(DeviceSettings cfg, List<BackendCandidate> known, List<Ranked> ranked) {
        if (known.isEmpty()) {
            // DS hands over only the factories that pass the target filter
            return DeviceSettings.ANY_BACKEND.equals(cfg.backendTarget()) ? "no backend factory is registered"
                    : "no registered backend factory passes the target filter " + cfg.backendTarget();
        }
        if (ranked.isEmpty()) {
            List<String> ids = new ArrayList<>();
            known.forEach(c -> ids.add(c.id()));
            return "no backend passes the target filter " + cfg.backendTarget() + " (registered: "
                    + String.join(", ", ids) + ")";
        }
        List<String> reasons = new ArrayList<>();
        for (Ranked r : ranked) {
            reasons.add(r.candidate().id() + ": " + r.match().reason());
        }
        return "no backend can serve " + cfg.address() + " (" + String.join("; ", reasons) + ")";
    }

    private boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /** Opens, sets up and publishes a session on {@code r}; on failure nothing stays open. */
    private void openOn(DeviceSettings cfg, Ranked r) {
        BackendCandidate c = r.candidate();
        synchronized (lock) {
            busyServiceId = c.serviceId();
        }
        DeviceIoOps ops;
        try {
            ops = c.factory().open(new OpenRequest(cfg.name(), cfg.address(), cfg.accessTimeout(), cfg.options()));
            if (ops == null) {
                throw new DeviceException("backend " + c.id() + " returned no device operations");
            }
        } catch (RuntimeException e) {
            clearBusy();
            throw e;
        }
        BackendSession s;
        try {
            DeviceInfo di = Objects.requireNonNull(ops.deviceInfo(), "device info");
            if (di.numRegions() > MAX_INDEXES || di.numIrqs() > MAX_INDEXES) {
                throw new DeviceException("backend " + c.id() + " reports " + di.numRegions() + " regions and "
                        + di.numIrqs() + " IRQ indexes; the core accepts at most " + MAX_INDEXES);
            }
            java.util.Set<BackendCapability> caps = Objects.requireNonNull(ops.capabilities(), "capabilities");
            s = new BackendSession(c.id(), c.serviceId(), ops, caps, di, this::wake);
        } catch (RuntimeException e) {
            closeQuietly(c.id(), ops);
            clearBusy();
            throw e;
        }
        open = s;
        openSettings = cfg;
        try {
            setUp(s);
            if (isClosed()) {
                throw new DeviceUnavailableException("device " + name() + " was removed while it was being opened");
            }
            if (!candidates.containsKey(c.serviceId())) {
                throw new DeviceUnavailableException("backend " + c.id() + " went away while the device was being opened");
            }
        } catch (RuntimeException e) {
            tearDown(s, null);
            throw e;
        }
        publish(s, r);
    }

    private void clearBusy() {
        synchronized (lock) {
            busyServiceId = -1;
            lock.notifyAll();
        }
    }

    private void setUp(BackendSession s) {
        DeviceInfo di = s.info();
        DeviceIoOps ops = s.ops();
        DeviceRegion[] rs = Arrays.copyOf(regions, Math.max(regions.length, di.numRegions()));
        for (int i = 0; i < rs.length; i++) {
            if (i >= di.numRegions()) {
                rs[i].setAbsent();
                continue;
            }
            RegionInfo ri = Objects.requireNonNull(ops.regionInfo(i), "region info");
            if (ri.index() != i) {
                throw new DeviceException("backend " + s.backendId() + " answered region info for index " + ri.index()
                        + " when asked for " + i);
            }
            if (rs[i] == null) {
                rs[i] = new DeviceRegion(this, i, ri);
            }
            rs[i].setUp(s, ri);
        }
        regions = rs;
        DeviceIrq[] qs = Arrays.copyOf(irqs, Math.max(irqs.length, di.numIrqs()));
        for (int i = 0; i < qs.length; i++) {
            IrqInfo ii = i < di.numIrqs() ? Objects.requireNonNull(ops.irqInfo(i), "IRQ info") : new IrqInfo(i, 0, 0);
            if (ii.index() != i) {
                throw new DeviceException("backend " + s.backendId() + " answered IRQ info for index " + ii.index()
                        + " when asked for " + i);
            }
            if (qs[i] == null) {
                qs[i] = new DeviceIrq(this, dispatcher, ii);
            }
            qs[i].setInfo(ii);
            if (i < di.numIrqs()) {
                qs[i].restore(s);
            }
        }
        irqs = qs;
        dma.restore(s);
        info = di;
    }

    private void publish(BackendSession s, Ranked r) {
        for (DeviceRegion region : regions) {
            region.publish();
        }
        String note = r.match().reason().isEmpty() ? "" : ": " + r.match().reason();
        Status[] change;
        synchronized (lock) {
            // Session and status change together, so a caller woken in awaitBound sees BOUND and the backend.
            generation++;
            session = s;
            change = updateStatus(DeviceState.BOUND, "bound to backend " + r.describe() + note);
            lock.notifyAll();
        }
        announce(change);
    }

    /**
     * Tears session {@code s} down (see the class comment for the order). Never throws.
     *
     * @param reason the state reason, or null to leave the state alone (a failed setup)
     */
    private void tearDown(BackendSession s, String reason) {
        synchronized (lock) {
            if (session == s) {
                session = null;
            }
        }
        if (reason != null) {
            setStatus(DeviceState.UNBOUND, reason);
        }
        for (DeviceRegion region : regions) {
            region.withdraw();
        }
        Duration wait = settings.accessTimeout();
        boolean drained;
        try {
            drained = s.closeAndDrain(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            drained = false;
        }
        if (!drained) {
            LOG.log(Level.WARNING, "device " + name() + ": " + s.inFlight() + " call(s) to backend " + s.backendId()
                    + " did not return within " + wait.toMillis() + " ms; tearing it down anyway");
        }
        for (DeviceRegion region : regions) {
            region.tearDown(s);
        }
        for (DeviceIrq irq : irqs) {
            irq.tearDown(s);
        }
        dma.tearDown(s);
        closeQuietly(s.backendId(), s.ops());
        if (open == s) {
            open = null;
            openSettings = null;
        }
        clearBusy();
    }

    private void closeQuietly(String backendId, DeviceIoOps ops) {
        try {
            ops.close();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "device " + name() + ": backend " + backendId + " failed to close: " + e.getMessage());
        }
    }

    private void setStatus(DeviceState state, String reason) {
        Status[] change;
        synchronized (lock) {
            change = updateStatus(state, reason);
        }
        announce(change);
    }

    /** Changes the status; the caller holds {@code lock}. @return {old, new}, or null if nothing changed */
    private Status[] updateStatus(DeviceState state, String reason) {
        Status old = status;
        String backend = state == DeviceState.BOUND && open != null ? open.backendId() : null;
        if (old.state() == state && old.reason().equals(reason) && Objects.equals(old.backendId(), backend)) {
            return null;
        }
        Status now = new Status(state, reason, backend, Instant.now());
        status = now;
        lock.notifyAll();
        return new Status[] {old, now};
    }

    /** Logs and announces a status change, outside the lock. */
    private void announce(Status[] change) {
        if (change == null) {
            return;
        }
        Status old = change[0];
        Status now = change[1];
        DeviceState state = now.state();
        String reason = now.reason();
        LOG.log(state == DeviceState.FAILED ? Level.WARNING : Level.INFO,
                "device " + name() + ": " + old.state() + " -> " + state + ": " + reason);
        try {
            events.accept(new DeviceEvent(this, old.state(), state, now.backendId(), reason, now.since()));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "device " + name() + ": announcing a state change failed", e);
        }
    }

    @Override
    public String toString() {
        Status st = status;
        return "device " + name() + " (" + address() + ", " + st.state()
                + (st.backendId() != null ? " on " + st.backendId() : "") + ")";
    }
}
