package vfio.core.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.MappedArea;
import vfio.api.device.DeviceState;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Region;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.core.testing.MemoryBackendFactory;
import vfio.core.testing.MemoryDeviceOps;

/** Backends leaving and coming while the device is in use. */
class HotSwapTest {
    private DeviceRig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    @Test
    void everySuccessfulMapIsUnmappedExactlyOnceAfterTheMemoryWasRevoked() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.backend("a");
        MemoryBackendFactory b = rig.backend("b");
        for (int i = 0; i < 5; i++) {
            rig.register(a);
            rig.awaitBoundTo("a");
            rig.device.region(0).write32(0, i);
            rig.register(b, 10);
            rig.awaitBoundTo("b");
            assertThat(rig.device.region(0).read32(0)).isEqualTo(i);
            rig.unregister(a);
            rig.unregister(b);
            rig.awaitState(DeviceState.UNBOUND);
        }
        // bar0 and bar2 are mapped on every open
        assertThat(a.regionMaps()).isEqualTo(10);
        assertThat(a.regionUnmaps()).isEqualTo(10);
        assertThat(b.regionMaps()).isEqualTo(10);
        assertThat(b.regionUnmaps()).isEqualTo(10);
        assertThat(a.opens()).isEqualTo(a.closes());
        // the backend checked at each regionUnmap that the area no longer reached its memory
        assertThat(a.violations()).isEmpty();
        assertThat(b.violations()).isEmpty();
    }

    @Test
    void theRevocationCheckOfTheTestBackendDetectsAnUnrevokedUnmap() throws Exception {
        try (vfio.core.testing.MemoryDevice mem = vfio.core.testing.MemoryDevice.pci("x")) {
            MemoryBackendFactory f = new MemoryBackendFactory("f", mem);
            MemoryDeviceOps ops = (MemoryDeviceOps) f.open(vfio.api.backend.OpenRequest.of("d", "x"));
            List<MappedArea> areas = ops.regionMap(mem.regions().get(0), List.of(new SparseArea(0, 4096)));
            ops.regionUnmap(0, areas);
            assertThat(f.violations()).singleElement().asString().contains("still reaches the device");
            vfio.posix.MappedMemory.adopt(areas.get(0).address(), 4096).unmap();
            ops.close();
        }
    }

    @Test
    void accessesWaitForTheNextBackendAndThenProceed() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.register(rig.backend("a"));
        rig.awaitBoundTo("a");
        Region bar0 = rig.device.region(0);
        bar0.write64(8, 1234);
        rig.unregister(a);
        assertThat(rig.device.state()).isEqualTo(DeviceState.UNBOUND);
        assertThat(bar0.mappedRanges()).isEmpty();
        CountDownLatch started = new CountDownLatch(1);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Long> read = pool.submit(() -> {
                started.countDown();
                return bar0.read64(8); // waits: nothing is bound
            });
            started.await();
            rig.register(rig.backend("b"));
            assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(1234);
        } finally {
            pool.shutdownNow();
        }
        assertThat(bar0.mappedRanges()).isNotEmpty();
    }

    @Test
    void accessesFailWithDeviceUnavailableAfterTheTimeout() throws Exception {
        rig = new DeviceRig(Map.of(DeviceSettings.ACCESS_TIMEOUT_MS, 100L));
        MemoryBackendFactory a = rig.register(rig.backend("a"));
        rig.awaitBoundTo("a");
        Region bar0 = rig.device.region(0);
        rig.unregister(a);
        assertThatThrownBy(() -> bar0.read32(0)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("device dev0 has had no backend for 100 ms")
                .hasMessageContaining("backend a went away").hasMessageContaining("region bar0");
        assertThatThrownBy(() -> bar0.write32(0, 1)).isInstanceOf(DeviceUnavailableException.class);
        // the region keeps its last info: ranges are still checked first
        assertThatThrownBy(() -> bar0.read32(1 << 20)).isInstanceOf(vfio.api.device.OutOfRangeException.class);
    }

    @Test
    void aBackendWhosePeerDiedIsTornDownAndTheDeviceRebinds() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.register(rig.backend("a"));
        rig.awaitBoundTo("a");
        Region config = rig.device.region("config");
        config.write32(0, 5);
        MemoryDeviceOps first = a.current();
        first.die("connection reset");
        assertThatThrownBy(() -> config.read32(0)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("connection reset");
        // the binder notices, tears down, reopens on the same (re-usable) factory
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (a.opens() < 2 || rig.device.state() != DeviceState.BOUND) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(2);
        }
        assertThat(first.isClosed()).isTrue();
        assertThat(config.read32(0)).isEqualTo(5);
        assertThat(rig.events).anySatisfy(e -> assertThat(e.reason()).contains("stopped answering")
                .contains("connection reset"));
    }

    @Test
    void aBackendReplacedByANewInstanceOnTheSameFileBackedMemoryKeepsTheValues(@org.junit.jupiter.api.io.TempDir
            java.nio.file.Path dir) throws Exception {
        // What an integration test's bundle update does: a new backend object, a new device object,
        // the same device memory.
        rig = new DeviceRig();
        try (vfio.core.testing.MemoryDevice first = vfio.core.testing.MemoryDevice.pci(DeviceRig.ADDRESS, dir);
                vfio.core.testing.MemoryDevice second = vfio.core.testing.MemoryDevice.pci(DeviceRig.ADDRESS, dir)) {
            MemoryBackendFactory v1 = rig.register(new MemoryBackendFactory("memory", first));
            rig.awaitBoundTo("memory");
            rig.device.region(0).write64(0x40, 0xABCDL);       // mapped
            rig.device.region("config").write16(2, 0x1234);   // slow path
            rig.unregister(v1);
            rig.register(new MemoryBackendFactory("memory", second));
            rig.awaitBoundTo("memory");
            assertThat(rig.device.region(0).read64(0x40)).isEqualTo(0xABCDL);
            assertThat(rig.device.region("config").read16(2)).isEqualTo(0x1234);
            assertThat(v1.violations()).isEmpty();
            rig.device.close();
        }
    }

    @Test
    void removingTheDeviceReleasesEverythingAndLaterAccessesFail() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.register(rig.backend("a"));
        rig.awaitBoundTo("a");
        Region bar0 = rig.device.region(0);
        bar0.write32(0, 1);
        rig.device.close();
        assertThat(a.closes()).isEqualTo(1);
        assertThat(a.regionUnmaps()).isEqualTo(a.regionMaps());
        assertThatThrownBy(() -> bar0.read32(0)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("was removed");
        assertThat(a.violations()).isEmpty();
    }

    /**
     * Four threads read and write mapped registers (and one unaligned, slow-path register each)
     * while the backend is swapped 200 times. Every successful read must return what the thread last
     * wrote (or, after a write reported as possibly lost, that value or the one before); the only
     * failure allowed is DeviceUnavailableException; and nothing may crash.
     */
    @Test
    void accessesRacingWithTwoHundredSwapsNeverCrashNorReturnWrongValues() throws Exception {
        rig = new DeviceRig(Map.of(DeviceSettings.ACCESS_TIMEOUT_MS, 5000L));
        MemoryBackendFactory a = rig.backend("a");
        MemoryBackendFactory b = rig.backend("b");
        rig.register(a);
        rig.awaitBoundTo("a");
        Region bar0 = rig.device.region(0);
        Region bar2 = rig.device.region(2);

        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        AtomicLong okReads = new AtomicLong();
        AtomicLong unavailable = new AtomicLong();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int id = t;
            Thread w = new Thread(() -> RegisterHammer.hammer(id, bar0, bar2, stop, errors, okReads, unavailable), "hammer-" + t);
            workers.add(w);
            w.start();
        }
        try {
            for (int i = 0; i < 200; i++) {
                MemoryBackendFactory next = i % 2 == 0 ? b : a;
                MemoryBackendFactory prev = i % 2 == 0 ? a : b;
                if (i % 4 < 2) {
                    // the backend leaves, accessors wait, another one comes
                    rig.unregister(prev); // returns once the device has let go of prev
                    rig.register(next);
                } else {
                    // a better backend appears: the greedy device moves while the old one is still there
                    rig.register(next, i);
                    rig.awaitBoundTo(next.id());
                    rig.unregister(prev);
                }
                rig.awaitBoundTo(next.id());
            }
            Thread.sleep(20); // let the workers see the final binding
        } finally {
            stop.set(true);
            for (Thread w : workers) {
                w.join(30_000);
                assertThat(w.isAlive()).as("worker finished").isFalse();
            }
        }
        System.out.println("swap stress: " + okReads.get() + " reads verified, " + unavailable.get()
                + " accesses refused as unavailable, " + (a.opens() + b.opens()) + " opens");
        assertThat(errors).isEmpty();
        assertThat(okReads.get()).isPositive();
        assertThat(a.opens() + b.opens()).isEqualTo(201);
        rig.device.close();
        assertThat(a.regionUnmaps()).isEqualTo(a.regionMaps());
        assertThat(b.regionUnmaps()).isEqualTo(b.regionMaps());
        assertThat(a.opens()).isEqualTo(a.closes());
        assertThat(b.opens()).isEqualTo(b.closes());
        assertThat(a.violations()).isEmpty();
        assertThat(b.violations()).isEmpty();
    }
}
