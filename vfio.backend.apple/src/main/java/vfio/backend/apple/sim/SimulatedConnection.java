package vfio.backend.apple.sim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import vfio.backend.apple.dext.BarInfo;
import vfio.backend.apple.dext.BarMapping;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextIdentity;
import vfio.backend.apple.dext.DmaRegistration;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;

/**
 * A user-client connection to a {@link SimulatedFunction}. Every call first consults the fault
 * injection of its {@link SimulatedDext} and is recorded in its call log.
 *
 * <p>WaitInterrupt state ({@link #armed}, {@link #completed}, {@link #woken}) is guarded by the
 * function's monitor, on which the waiter blocks.
 */
final class SimulatedConnection implements DextConnection {
    private final SimulatedDext dext;
    private final SimulatedFunction function;
    private final Map<Long, MappedMemory> barMappings = new LinkedHashMap<>();
    private boolean claimed;
    private volatile boolean closed;
    /** WaitInterrupt is armed in the dext (guarded by function). */
    boolean armed;
    /** A completion arrived and was not yet consumed by a waiter (guarded by function). */
    boolean completed;
    /** {@link #wakeWaiter()} was called (guarded by function). */
    boolean woken;

    SimulatedConnection(SimulatedDext dext, SimulatedFunction function) {
        this.dext = dext;
        this.function = function;
        function.attach(this);
    }

    private void enter(Selector s, long... args) throws DextException {
        if (closed) {
            dext.record(function.bdf(), s, args, KernReturn.NOT_OPEN, "closed");
            throw new DextException(s, KernReturn.NOT_OPEN, "connection closed");
        }
        int kr = dext.takeFault(s);
        dext.record(function.bdf(), s, args, kr, kr == 0 ? null : "injected");
        if (kr != 0) {
            throw new DextException(s, kr, "injected by the simulation");
        }
    }

    @Override
    public DextIdentity identity() throws DextException {
        enter(Selector.GET_IDENTITY);
        return function.identity();
    }

    @Override
    public void claim() throws DextException {
        enter(Selector.CLAIM);
        synchronized (function) {
            function.claim();
            claimed = true;
        }
    }

    @Override
    public void terminate() throws DextException {
        enter(Selector.TERMINATE);
    }

    @Override
    public DmaRegistration registerDmaRegion(long key, long clientAddress, long size) throws DextException {
        enter(Selector.REGISTER_DMA_REGION, key, clientAddress, size);
        return function.registerDma(key, clientAddress, size);
    }

    @Override
    public void unregisterDmaRegion(long key) throws DextException {
        enter(Selector.UNREGISTER_DMA_REGION, key);
        function.unregisterDma(key);
    }

    @Override
    public long probeDmaRegion(long key, long offset) throws DextException {
        enter(Selector.PROBE_DMA_REGION, key, offset);
        return function.probeDma(key, offset);
    }

    @Override
    public long configRead(int offset, int width) throws DextException {
        enter(Selector.CONFIG_READ, offset, width);
        return function.configRead(offset, width);
    }

    @Override
    public void configWrite(int offset, int width, long value) throws DextException {
        enter(Selector.CONFIG_WRITE, offset, width, value);
        function.configWrite(offset, width, value);
    }

    @Override
    public BarInfo barInfo(int bar) throws DextException {
        enter(Selector.GET_BAR_INFO, bar);
        return function.barInfo(bar);
    }

    @Override
    public long mmioRead(int memoryIndex, long offset, int width) throws DextException {
        enter(Selector.MMIO_READ, memoryIndex, offset, width);
        return function.mmioRead(memoryIndex, offset, width);
    }

    @Override
    public void mmioWrite(int memoryIndex, long offset, int width, long value) throws DextException {
        enter(Selector.MMIO_WRITE, memoryIndex, offset, width, value);
        function.mmioWrite(memoryIndex, offset, width, value);
    }

    @Override
    public int setupInterrupts() throws DextException {
        enter(Selector.SETUP_INTERRUPTS);
        return function.setupInterrupts();
    }

    @Override
    public long[] checkInterrupt() throws DextException {
        enter(Selector.CHECK_INTERRUPT);
        return function.checkInterrupt();
    }

    @Override
    public boolean waitInterrupt(long timeoutMillis) throws DextException {
        if (timeoutMillis <= 0) {
            throw new IllegalArgumentException("wait timeout must be positive, got " + timeoutMillis);
        }
        if (closed) {
            throw new DextException(Selector.WAIT_INTERRUPT, KernReturn.NOT_OPEN, "connection closed");
        }
        int kr = dext.takeFault(Selector.WAIT_INTERRUPT);
        if (kr != 0) {
            dext.record(function.bdf(), Selector.WAIT_INTERRUPT, new long[0], kr, "injected");
            throw new DextException(Selector.WAIT_INTERRUPT, kr, "injected by the simulation");
        }
        boolean result;
        synchronized (function) {
            armed = true; // re-arming an armed wait replaces it, as the dext keeps the latest OSAction
            if (function.anyPending()) {
                function.completeArmed();
            }
            long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
            try {
                while (!completed && !woken && !closed) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    function.wait(left / 1_000_000L, (int) (left % 1_000_000L));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            result = completed;
            completed = false;
            woken = false;
        }
        dext.record(function.bdf(), Selector.WAIT_INTERRUPT, new long[] {timeoutMillis}, 0,
                result ? "completed" : "returned without completion");
        return result;
    }

    @Override
    public void wakeWaiter() {
        synchronized (function) {
            woken = true;
            function.notifyAll();
        }
    }

    @Override
    public void setIrqMask(long[] mask) throws DextException {
        if (mask.length != 4) {
            throw new IllegalArgumentException("the IRQ mask has 4 words, got " + mask.length);
        }
        enter(Selector.SET_IRQ_MASK, mask);
        function.setIrqMask(mask);
    }

    @Override
    public void resetDevice() throws DextException {
        enter(Selector.RESET_DEVICE);
        function.reset();
    }

    @Override
    public BarMapping mapBar(int bar, boolean writeCombining) throws DextException {
        enter(Selector.MAP_BAR, bar, writeCombining ? 1 : 0);
        if (bar < 0 || bar > 5) {
            throw new DextException(Selector.MAP_BAR, KernReturn.BAD_ARGUMENT, "BAR " + bar);
        }
        SimulatedBar spec = barSpec(bar);
        if (!spec.present() || spec.kind() == SimulatedBar.Kind.IO) {
            throw new DextException(Selector.MAP_BAR, KernReturn.BAD_ARGUMENT, "BAR" + bar + " has no memory to map");
        }
        if (!spec.mappable()) {
            throw new DextException(Selector.MAP_BAR, KernReturn.UNSUPPORTED, "BAR" + bar + " is not mappable in this simulation");
        }
        Fd fd = function.barFd(bar);
        if (fd == null) {
            throw new DextException(Selector.MAP_BAR, KernReturn.NOT_OPEN, "simulated dext closed");
        }
        long bytes = MappedMemory.roundUpToPage(spec.size());
        try {
            MappedMemory m = MappedMemory.map(fd, 0, bytes, true);
            synchronized (barMappings) {
                barMappings.put(m.address(), m);
            }
            return new BarMapping(bar, m.address(), bytes, writeCombining);
        } catch (ErrnoException e) {
            throw new DextException(Selector.MAP_BAR, KernReturn.VM_ERROR, e.getMessage());
        }
    }

    @Override
    public void unmapBar(BarMapping mapping) throws DextException {
        enter(Selector.UNMAP_BAR, mapping.bar(), mapping.address());
        MappedMemory m;
        synchronized (barMappings) {
            m = barMappings.remove(mapping.address());
        }
        if (m == null) {
            throw new DextException(Selector.UNMAP_BAR, KernReturn.BAD_ARGUMENT, "no mapping at 0x" + Long.toHexString(mapping.address()));
        }
        unmapQuietly(m);
    }

    @Override
    public long mapAlias(BarMapping mapping, long offset, long size) throws DextException {
        if (closed) {
            throw new DextException(Selector.MAP_BAR, KernReturn.NOT_OPEN, "connection closed");
        }
        int kr = dext.takeFault(Selector.MAP_BAR);
        dext.record(function.bdf(), Selector.MAP_BAR, new long[] {mapping.bar(), offset, size}, kr, "alias");
        if (kr != 0) {
            throw new DextException(Selector.MAP_BAR, kr, "alias (injected by the simulation)");
        }
        synchronized (barMappings) {
            if (!barMappings.containsKey(mapping.address())) {
                throw new DextException(Selector.MAP_BAR, KernReturn.BAD_ARGUMENT, "BAR" + mapping.bar() + " is not mapped");
            }
        }
        long page = MappedMemory.pageSize();
        if (offset < 0 || offset % page != 0 || size <= 0 || offset + size > mapping.size()) {
            throw new DextException(Selector.MAP_BAR, KernReturn.BAD_ARGUMENT, "alias offset " + offset + " size " + size);
        }
        Fd fd = function.barFd(mapping.bar());
        if (fd == null) {
            throw new DextException(Selector.MAP_BAR, KernReturn.NOT_OPEN, "simulated dext closed");
        }
        try {
            MappedMemory alias = MappedMemory.map(fd, offset, MappedMemory.roundUpToPage(size), true);
            function.aliasMade();
            return alias.address(); // handed over: the new owner unmaps it
        } catch (ErrnoException e) {
            throw new DextException(Selector.MAP_BAR, KernReturn.VM_ERROR, e.getMessage());
        }
    }

    @Override
    public void unmapAlias(long address, long size) throws DextException {
        try {
            MappedMemory.adopt(address, MappedMemory.roundUpToPage(size)).unmap();
            function.aliasUnmapped();
        } catch (ErrnoException e) {
            throw new DextException(Selector.UNMAP_BAR, KernReturn.VM_ERROR, e.getMessage());
        }
    }

    @Override
    public long pageSize() {
        return MappedMemory.pageSize();
    }

    private SimulatedBar barSpec(int bar) {
        return dext.spec(function).bars().get(bar);
    }

    /** @return whether {@link #close()} was called */
    boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        List<MappedMemory> left;
        synchronized (function) {
            if (closed) {
                return;
            }
            closed = true;
            if (claimed) {
                function.release();
                claimed = false;
            }
            armed = false;
            function.notifyAll();
        }
        synchronized (barMappings) {
            left = new ArrayList<>(barMappings.values());
            barMappings.clear();
        }
        left.forEach(SimulatedConnection::unmapQuietly); // IOServiceClose releases the user client's mappings
        function.detach(this);
        dext.connectionClosed(this);
    }

    private static void unmapQuietly(MappedMemory m) {
        try {
            m.unmap();
        } catch (ErrnoException e) {
            // our own mapping: munmap fails only for an invalid range, nothing left to release
        }
    }
}
