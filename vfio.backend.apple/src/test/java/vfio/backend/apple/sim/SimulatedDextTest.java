package vfio.backend.apple.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import vfio.backend.apple.dext.BarInfo;
import vfio.backend.apple.dext.BarMapping;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextService;
import vfio.backend.apple.dext.DmaRegistration;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFd;

/** The simulated dext behaves as the reference describes the real one. */
class SimulatedDextTest {
    private static final Bdf BDF = new Bdf(0, 2, 0);
    private SimulatedDext sim;
    private DextConnection c;

    @BeforeEach
    void open() throws Exception {
        sim = new SimulatedDext(List.of(FunctionSpec.edu(BDF, true, 8)));
        c = connect();
    }

    private DextConnection connect() throws DextException {
        List<DextService> services = sim.findServices();
        assertThat(services).hasSize(1);
        return sim.open(services.get(0));
    }

    @AfterEach
    void close() {
        sim.close();
    }

    private SimulatedFunction f() {
        return sim.function(BDF);
    }

    @Test
    void identityReportsTheFunctionAndItsIds() throws Exception {
        assertThat(c.identity().bdf()).isEqualTo(BDF);
        assertThat(c.identity().vendorId()).isEqualTo(0x1234);
        assertThat(c.identity().deviceId()).isEqualTo(0x11e8);
    }

    @Test
    void configSpaceHasARealHeaderBarsAndCapabilityList() throws Exception {
        assertThat(c.configRead(0x00, 4)).isEqualTo(0x11e81234L);
        assertThat(c.configRead(0x09, 2) | c.configRead(0x0b, 1) << 16).isEqualTo(0x00ff00L);
        assertThat(c.configRead(0x06, 2) & 0x10).as("capability list").isEqualTo(0x10);
        assertThat(c.configRead(0x10, 4) & 0xf).as("BAR0: 32-bit memory").isZero();
        assertThat(c.configRead(0x18, 4) & 0xf).as("BAR2: 64-bit prefetchable").isEqualTo(0xc);
        assertThat(c.configRead(0x20, 4) & 0x1).as("BAR4: I/O").isEqualTo(1);
        int ptr = (int) c.configRead(0x34, 1);
        StringBuilder ids = new StringBuilder();
        while (ptr != 0) {
            ids.append(String.format("%02x@%02x ", c.configRead(ptr, 1), ptr));
            ptr = (int) c.configRead(ptr + 1, 1);
        }
        assertThat(ids.toString().trim()).isEqualTo("01@40 05@50 11@70");
        assertThat(c.configRead(0x72, 2) & 0x7ff).as("MSI-X table size - 1").isEqualTo(7);
        assertThatThrownBy(() -> c.configRead(4094, 4)).isInstanceOf(DextException.class);
    }

    @Test
    void barInfoReportsSizeMemoryIndexAndPrefetchability() throws Exception {
        assertThat(c.barInfo(0)).isEqualTo(new BarInfo(0, 1 << 20, 0));
        assertThat(c.barInfo(2).prefetchable()).isTrue();
        assertThat(c.barInfo(2).size()).isEqualTo(64 << 10);
        assertThat(c.barInfo(3).size()).isZero();
        assertThat(c.barInfo(4).size()).isEqualTo(256);
    }

    @Test
    void claimsAreCountedAndTheFirstEnablesMemoryAndBusMaster() throws Exception {
        c.claim();
        DextConnection other = connect();
        other.claim();
        assertThat(f().claims()).isEqualTo(2);
        assertThat(c.configRead(0x04, 2) & 0x6).isEqualTo(0x6);
        other.close();
        assertThat(f().claims()).isEqualTo(1);
        assertThat(c.configRead(0x04, 2) & 0x6).isEqualTo(0x6);
        c.close();
        assertThat(f().claims()).isZero();
        assertThat(f().configSpace()[0x04] & 0x6).isZero();
    }

    @Test
    void barsAreRealSharedMemoryAndUnmappableBarsAreRefused() throws Exception {
        BarMapping m = c.mapBar(2, true);
        assertThat(m.writeCombining()).isTrue();
        ByteBuffer view = new com.sun.jna.Pointer(m.address()).getByteBuffer(0, m.size());
        view.putInt(0x20, 0x600dcafe);
        assertThat(f().bar(2).getInt(0x20)).isEqualTo(0x600dcafe);
        assertThat(c.mmioRead(2, 0x20, 4)).isEqualTo(0x600dcafeL);
        long alias = c.mapAlias(m, 0, 4096);
        assertThat(new com.sun.jna.Pointer(alias).getInt(0x20)).isEqualTo(0x600dcafe);
        c.unmapAlias(alias, 4096);
        c.unmapBar(m);
        assertThatThrownBy(() -> c.mapBar(4, false)).isInstanceOf(DextException.class);
        assertThatThrownBy(() -> c.mapBar(1, false)).isInstanceOf(DextException.class);
        try (SimulatedDext unmappable = new SimulatedDext(List.of(FunctionSpec.edu(BDF, false, 0)))) {
            DextConnection u = unmappable.open(unmappable.findServices().get(0));
            assertThatThrownBy(() -> u.mapBar(0, false)).isInstanceOf(DextException.class)
                    .satisfies(e -> assertThat(((DextException) e).kernReturn()).isEqualTo(KernReturn.UNSUPPORTED));
        }
    }

    @Test
    void aRaiseSetsItsBitOnlyWhenEnabled() throws Exception {
        c.setupInterrupts();
        f().raise(5);
        assertThat(f().pendingBits()).containsOnly(0);
        c.setIrqMask(new long[] {1L << 5, 0, 0, 1L << 63});
        f().raise(5);
        f().raise(255);
        assertThat(c.checkInterrupt()).containsExactly(1L << 5, 0, 0, 1L << 63);
        assertThat(c.checkInterrupt()).as("read and cleared").containsOnly(0);
    }

    @Test
    void waitCompletesAtOnceWhenBitsArePendingAndIsOneShot() throws Exception {
        c.setupInterrupts();
        c.setIrqMask(new long[] {1, 0, 0, 0});
        f().raise(0);
        assertThat(c.waitInterrupt(60_000)).isTrue(); // already pending
        assertThat(c.waitInterrupt(20)).as("still pending: re-armed wait completes again").isTrue();
        c.checkInterrupt();
        assertThat(c.waitInterrupt(20)).as("nothing pending").isFalse();
        f().raise(0); // the wait that timed out is still armed: this completes it
        assertThat(c.waitInterrupt(60_000)).isTrue();
    }

    @Test
    void aRaiseCompletesABlockedWait() throws Exception {
        c.setupInterrupts();
        c.setIrqMask(new long[] {1, 0, 0, 0});
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return c.waitInterrupt(60_000);
            } catch (DextException e) {
                throw new IllegalStateException(e);
            }
        });
        f().raise(0); // before or after the arm: either way the wait completes
        assertThat(waiter.get(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void wakeWaiterEndsAWaitWithoutACompletion() throws Exception {
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return c.waitInterrupt(600_000);
            } catch (DextException e) {
                throw new IllegalStateException(e);
            }
        });
        c.wakeWaiter();
        assertThat(waiter.get(10, TimeUnit.SECONDS)).isFalse();
    }

    @Test
    void aLostWakeUpSwallowsOneCompletionButNotTheBit() throws Exception {
        c.setupInterrupts();
        c.setIrqMask(new long[] {1, 0, 0, 0});
        sim.loseNextWakeup();
        f().raise(0);
        assertThat(c.waitInterrupt(20)).isFalse();
        assertThat(f().lostWakeups()).isEqualTo(1);
        assertThat(c.checkInterrupt()[0]).isEqualTo(1);
    }

    @Test
    void dmaRegistrationHandsOutBusAddressesOfItsOwn() throws Exception {
        long page = MappedMemory.pageSize();
        try (Fd fd = MemFd.create("t", 3 * page)) {
            MappedMemory mem = MappedMemory.map(fd, 0, 3 * page, true);
            DmaRegistration a = c.registerDmaRegion(0x1000, mem.address(), page);
            DmaRegistration b = c.registerDmaRegion(0x2000, mem.address() + page, 2 * page);
            assertThat(a.busAddress()).isNotEqualTo(0x1000).isNotEqualTo(mem.address());
            assertThat(b.busAddress()).isGreaterThanOrEqualTo(a.busAddress() + page);
            assertThat(a.segments()).isEqualTo(1);
            assertThat(b.busLength()).isEqualTo(2 * page);
            assertThatThrownBy(() -> c.registerDmaRegion(0x1000, mem.address(), page)).isInstanceOf(DextException.class);
            byte[] data = {1, 2, 3, 4};
            f().dmaWrite(b.busAddress() + 8, data, 0, 4);
            assertThat(mem.view().getInt((int) page + 8)).isEqualTo(0x04030201);
            assertThatThrownBy(() -> f().dmaRead(b.busAddress() + 2 * page - 2, new byte[4], 0, 4))
                    .isInstanceOf(DeviceContext.DmaFaultException.class);
            c.unregisterDmaRegion(0x1000);
            assertThatThrownBy(() -> c.unregisterDmaRegion(0x1000)).isInstanceOf(DextException.class)
                    .satisfies(e -> assertThat(((DextException) e).kernReturn()).isEqualTo(KernReturn.NOT_FOUND));
            c.unregisterDmaRegion(0x2000);
            // freed bus space is reused, and a bus address never equals its key
            DmaRegistration again = c.registerDmaRegion(SimulatedFunction.DMA_BUS_BASE, mem.address(), page);
            assertThat(again.busAddress()).isNotEqualTo(SimulatedFunction.DMA_BUS_BASE)
                    .isLessThan(SimulatedFunction.DMA_BUS_BASE + 4 * page);
            assertThat(again.busAddress()).as("below 2^28 for 28-bit DMA masks").isLessThan(1L << 28);
            c.unregisterDmaRegion(SimulatedFunction.DMA_BUS_BASE);
            mem.unmap();
        }
    }

    @Test
    void injectedFaultsHitTheChosenCall() throws Exception {
        sim.failLater(Selector.CONFIG_READ, 1, KernReturn.IO_ERROR);
        c.configRead(0, 4);
        assertThatThrownBy(() -> c.configRead(0, 4)).isInstanceOf(DextException.class)
                .satisfies(e -> assertThat(((DextException) e).kernReturn()).isEqualTo(KernReturn.IO_ERROR));
        c.configRead(0, 4);
        sim.failAlways(Selector.RESET_DEVICE, KernReturn.NOT_RESPONDING);
        assertThatThrownBy(c::resetDevice).isInstanceOf(DextException.class);
        assertThatThrownBy(c::resetDevice).isInstanceOf(DextException.class);
        sim.clearFaults();
        c.resetDevice();
    }

    @Test
    void closingTheSimulationClosesItsConnections() throws Exception {
        sim.close();
        assertThat(sim.openConnections()).isZero();
        assertThatThrownBy(() -> c.configRead(0, 4)).isInstanceOf(DextException.class)
                .satisfies(e -> assertThat(((DextException) e).meansGone()).isTrue());
    }
}
