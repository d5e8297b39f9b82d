package vfio.backend.apple.sim;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextConnector;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextService;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;
import vfio.posix.ErrnoException;

/**
 * A simulated set of VFIOUserPCIDriver dext instances, one per {@link FunctionSpec}, behind the
 * {@link DextConnector} interface, with fault injection and a call log for tests.
 *
 * <p><b>Ownership:</b> the creator closes it; closing closes every connection and releases the BAR
 * memfds. <b>Threading:</b> thread-safe.
 */
public final class SimulatedDext implements DextConnector, AutoCloseable {
    /** Kind reported by {@link #kind()}. */
    public static final String KIND = "simulated";
    private static final int CALL_LOG_CAPACITY = 10_000; // about 1 MB; the component may run for days

    /**
     * One recorded dext call.
     *
     * @param bdf        the function whose dext instance was called
     * @param selector   the selector or IOKit operation
     * @param args       its scalar arguments
     * @param kernReturn what it returned (0 for success; also 0 before a failure found later in the
     *                   function, e.g. a bad argument)
     * @param note       "injected" for an injected fault, "alias" for a mapAlias, the WaitInterrupt
     *                   outcome, or null
     */
    public record Call(Bdf bdf, Selector selector, long[] args, int kernReturn, String note) {
        public Call {
            args = args.clone();
        }

        @Override
        public long[] args() {
            return args.clone();
        }

        /** @return argument {@code i} */
        public long arg(int i) {
            return args[i];
        }

        @Override
        public String toString() {
            return selector.dextName() + Arrays.toString(args) + (kernReturn != 0 ? " -> " + KernReturn.describe(kernReturn) : "")
                    + (note != null ? " (" + note + ")" : "");
        }
    }

    private final Map<Bdf, SimulatedFunction> functions = new LinkedHashMap<>();
    private final Map<SimulatedFunction, FunctionSpec> specs = new ConcurrentHashMap<>();
    private final Set<SimulatedConnection> open = ConcurrentHashMap.newKeySet();
    private final Deque<Call> calls = new ArrayDeque<>();
    private final Map<Selector, int[]> failNext = new EnumMap<>(Selector.class);
    private final Map<Selector, Integer> failAlways = new EnumMap<>(Selector.class);
    private int lostWakeups;
    private boolean splitDmaSegments;
    private int connectionsOpened;

    /**
     * Creates the functions (memfd-backed BARs, config space, models).
     *
     * @throws ErrnoException           if BAR memory cannot be created
     * @throws IllegalArgumentException if two functions share an address
     */
    public SimulatedDext(List<FunctionSpec> specs) throws ErrnoException {
        try {
            for (FunctionSpec spec : specs) {
                if (functions.containsKey(spec.bdf())) {
                    throw new IllegalArgumentException("two simulated functions at " + spec.bdf());
                }
                SimulatedFunction f = new SimulatedFunction(this, spec);
                functions.put(spec.bdf(), f);
                this.specs.put(f, spec);
            }
        } catch (ErrnoException | RuntimeException e) {
            close();
            throw e;
        }
    }

    // ---- DextConnector --------------------------------------------------------------------------

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public List<DextService> findServices() throws DextException {
        List<DextService> services = new ArrayList<>();
        synchronized (functions) {
            for (SimulatedFunction f : functions.values()) {
                services.add(new Service(f));
            }
        }
        return services;
    }

    @Override
    public DextConnection open(DextService service) throws DextException {
        if (!(service instanceof Service s)) {
            throw new IllegalArgumentException("not a service of this simulated dext: " + service.description());
        }
        int kr = takeFault(Selector.OPEN);
        record(s.function.bdf(), Selector.OPEN, new long[0], kr, kr != 0 ? "injected" : null);
        if (kr != 0) {
            throw new DextException(Selector.OPEN, kr, "IOServiceOpen " + s.description() + " (injected)");
        }
        SimulatedConnection c = new SimulatedConnection(this, s.function);
        open.add(c);
        synchronized (this) {
            connectionsOpened++;
        }
        return c;
    }

    private static final class Service implements DextService {
        final SimulatedFunction function;

        Service(SimulatedFunction function) {
            this.function = function;
        }

        @Override
        public String description() {
            return "simulated VFIOUserPCIDriver for " + function.bdf();
        }

        @Override
        public void close() {
            // nothing to release: the simulation has no registry handles
        }
    }

    // ---- fault injection ------------------------------------------------------------------------

    /** Makes the next call of {@code selector} fail with {@code kernReturn} (one shot). */
    public synchronized void failNext(Selector selector, int kernReturn) {
        failLater(selector, 0, kernReturn);
    }

    /** Lets {@code skip} calls of {@code selector} succeed, then makes one fail with {@code kernReturn}. */
    public synchronized void failLater(Selector selector, int skip, int kernReturn) {
        failNext.put(selector, new int[] {skip, kernReturn});
    }

    /** Makes every call of {@code selector} fail with {@code kernReturn} until {@link #clearFaults()}. */
    public synchronized void failAlways(Selector selector, int kernReturn) {
        failAlways.put(selector, kernReturn);
    }

    /** Makes the next WaitInterrupt completion get lost: the dext consumes the armed wait but sends nothing. */
    public synchronized void loseNextWakeup() {
        lostWakeups++;
    }

    /** Makes RegisterDMARegion report two bus segments (the first covering half), as fragmented memory would. */
    public synchronized void splitDmaSegments(boolean on) {
        splitDmaSegments = on;
    }

    /** Removes every injected fault. */
    public synchronized void clearFaults() {
        failNext.clear();
        failAlways.clear();
        lostWakeups = 0;
        splitDmaSegments = false;
    }

    synchronized int takeFault(Selector s) {
        int[] next = failNext.get(s);
        if (next != null) {
            if (next[0]-- == 0) {
                failNext.remove(s);
                return next[1];
            }
        }
        Integer kr = failAlways.get(s);
        return kr == null ? 0 : kr;
    }

    synchronized boolean takeLostWakeup() {
        if (lostWakeups > 0) {
            lostWakeups--;
            return true;
        }
        return false;
    }

    synchronized boolean splitDmaSegments() {
        return splitDmaSegments;
    }

    // ---- call log -------------------------------------------------------------------------------

    synchronized void record(Bdf bdf, Selector s, long[] args, int kr, String note) {
        if (calls.size() == CALL_LOG_CAPACITY) {
            calls.removeFirst();
        }
        calls.addLast(new Call(bdf, s, args, kr, note));
    }

    /** @return the recorded calls, oldest first (at most the last 10000) */
    public synchronized List<Call> calls() {
        return new ArrayList<>(calls);
    }

    /** @return the recorded calls of one selector, oldest first */
    public synchronized List<Call> calls(Selector selector) {
        return calls.stream().filter(c -> c.selector() == selector).toList();
    }

    /** Forgets the recorded calls. */
    public synchronized void clearCalls() {
        calls.clear();
    }

    // ---- inspection -----------------------------------------------------------------------------

    /** @return the function at {@code bdf} */
    public SimulatedFunction function(Bdf bdf) {
        synchronized (functions) {
            SimulatedFunction f = functions.get(bdf);
            if (f == null) {
                throw new IllegalArgumentException("no simulated function at " + bdf);
            }
            return f;
        }
    }

    FunctionSpec spec(SimulatedFunction f) {
        return specs.get(f);
    }

    /** @return connections open now, over all functions */
    public int openConnections() {
        return open.size();
    }

    /** @return connections opened since creation */
    public synchronized int connectionsOpened() {
        return connectionsOpened;
    }

    void connectionClosed(SimulatedConnection c) {
        open.remove(c);
    }

    /** Closes every connection and releases all simulated functions. Idempotent. */
    @Override
    public void close() {
        List<SimulatedFunction> all;
        synchronized (functions) {
            all = new ArrayList<>(functions.values());
        }
        all.forEach(SimulatedFunction::close);
    }
}
