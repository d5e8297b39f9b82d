package vfio.core.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import vfio.api.device.DeviceEvent;
import vfio.api.device.DeviceState;
import vfio.api.device.DeviceUnavailableException;
import vfio.core.testing.MemoryBackendFactory;

/** Which backend a device binds to, and when it moves: selection, greedy/sticky, target filter, failures. */
class BindingTest {
    private DeviceRig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    @Test
    void picksTheHighestScoreThenRankingThenOldestService() throws Exception {
        rig = new DeviceRig(Map.of(DeviceSettings.REBIND_POLICY, "sticky"));
        MemoryBackendFactory a = rig.backend("a");
        MemoryBackendFactory b = rig.backend("b");
        MemoryBackendFactory c = rig.backend("c");
        MemoryBackendFactory d = rig.backend("d");
        a.setScore(50);
        b.setScore(100);
        c.setScore(100);
        d.setScore(100);
        // c and d tie with b on score; c wins on ranking; d registered after b, so b beats d
        rig.register(a);
        rig.register(b);
        rig.register(d);
        rig.register(c, 10);
        java.util.List<BackendRanking.Ranked> ranked = BackendRanking.rank(rig.device.candidates(), DeviceRig.ADDRESS);
        assertThat(ranked).extracting(r -> r.candidate().id()).containsExactly("c", "b", "d", "a");
    }

    @Test
    void nonMatchingBackendsAreNeverOpenedAndTheReasonSaysWhy() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.backend("a");
        a.setScore(0);
        rig.register(a);
        rig.awaitState(DeviceState.UNBOUND);
        awaitReason("no backend can serve mem:test0");
        assertThat(rig.device.stateReason()).contains("a: score set to 0 by the test");
        assertThat(a.opens()).isZero();
    }

    @Test
    void greedyMovesToABetterBackendAndStickyStays() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory low = rig.register(rig.backend("low"));
        rig.awaitBoundTo("low");
        MemoryBackendFactory high = rig.backend("high");
        high.setScore(200);
        rig.register(high);
        rig.awaitBoundTo("high");
        assertThat(rig.device.stateReason()).contains("high (score 200");
        assertThat(low.closes()).isEqualTo(1);
        assertThat(events()).anySatisfy(e -> assertThat(e.reason()).contains("is a better match than low"));

        rig.device.update(DeviceSettings.from(Map.of(DeviceSettings.NAME, "dev0", DeviceSettings.ADDRESS,
                DeviceRig.ADDRESS, DeviceSettings.REBIND_POLICY, "sticky")));
        MemoryBackendFactory higher = rig.backend("higher");
        higher.setScore(300);
        rig.register(higher);
        rig.register(rig.backend("other"), 5); // a second event, to prove the first one was handled
        Thread.sleep(50);
        assertThat(rig.device.backendId()).contains("high");
        assertThat(higher.opens()).isZero();
        // sticky moves only when the current backend goes
        rig.unregister(high);
        rig.awaitBoundTo("higher");
    }

    @Test
    void aRaisedRankingOnAServiceModificationMovesAGreedyDevice() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.register(rig.backend("a"));
        MemoryBackendFactory b = rig.register(rig.backend("b"));
        rig.awaitBoundTo("a"); // same score and ranking: the older service
        rig.modify(b, 10);
        rig.awaitBoundTo("b");
        // a backend that stops matching is left
        b.setScore(0);
        rig.modify(b, 10);
        rig.awaitBoundTo("a");
        assertThat(events()).anySatisfy(e -> assertThat(e.reason()).contains("b can no longer serve"));
    }

    @Test
    void targetFilterPinsABackend() throws Exception {
        rig = new DeviceRig(Map.of(DeviceSettings.BACKEND_TARGET, "(vfio.backend.id=pinned)"));
        MemoryBackendFactory other = rig.backend("other");
        other.setScore(500);
        rig.register(other);
        rig.awaitState(DeviceState.UNBOUND);
        awaitReason("no backend passes the target filter (vfio.backend.id=pinned)");
        rig.register(rig.backend("pinned"));
        rig.awaitBoundTo("pinned");
        assertThat(other.opens()).isZero();
        // re-pinning moves the device
        rig.device.update(DeviceSettings.from(Map.of(DeviceSettings.NAME, "dev0", DeviceSettings.ADDRESS,
                DeviceRig.ADDRESS, DeviceSettings.BACKEND_TARGET, "(vfio.backend.id=other)")));
        rig.awaitBoundTo("other");
    }

    @Test
    void aFailedOpenMakesTheDeviceFailedWithTheReasonAndIsRetriedWhenBackendsChange() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.backend("a");
        a.failOpen("no such device");
        rig.register(a);
        rig.awaitState(DeviceState.FAILED);
        assertThat(rig.device.stateReason()).contains("could not open mem:test0").contains("a: OPEN failed with EIO")
                .contains("no such device").contains("retrying in");
        a.failOpen(null);
        rig.modify(a, 0);
        rig.awaitBoundTo("a");
    }

    @Test
    void aFailedOpenIsRetriedOnATimerToo() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.backend("a");
        a.failOpen("busy");
        rig.register(a);
        rig.awaitState(DeviceState.FAILED);
        a.failOpen(null);
        rig.awaitBoundTo("a"); // after the 1 s backoff, without any service event
    }

    @Test
    void whenTheBestBackendFailsToOpenTheNextOneIsUsed() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory best = rig.backend("best");
        best.setScore(200);
        best.failOpen("broken");
        rig.register(best);
        rig.register(rig.backend("second"));
        rig.awaitBoundTo("second");
    }

    @Test
    void aSlowOpenDoesNotBlockTheThreadThatRegisteredTheBackend() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory slow = rig.backend("slow");
        CountDownLatch gate = new CountDownLatch(1);
        slow.holdOpen(gate);
        rig.register(slow); // returns while open() is blocked
        assertThat(rig.device.state()).isNotEqualTo(DeviceState.BOUND);
        gate.countDown();
        rig.awaitBoundTo("slow");
    }

    @Test
    void eventsAnnounceEveryChangeInOrderWithTheBackend() throws Exception {
        rig = new DeviceRig();
        MemoryBackendFactory a = rig.register(rig.backend("a"));
        rig.awaitBoundTo("a");
        rig.unregister(a);
        awaitReason("no backend factory is registered");
        java.util.List<DeviceEvent> ev = events();
        DeviceEvent bound = ev.stream().filter(e -> e.current() == DeviceState.BOUND).findFirst().orElseThrow();
        assertThat(bound.backendId()).isEqualTo("a");
        assertThat(bound.device()).isSameAs(rig.device);
        DeviceEvent left = ev.stream().filter(e -> e.previous() == DeviceState.BOUND).findFirst().orElseThrow();
        assertThat(left.current()).isEqualTo(DeviceState.UNBOUND);
        assertThat(left.backendId()).isNull();
        assertThat(left.reason()).isEqualTo("backend a went away");
        assertThat(ev.get(ev.size() - 1).reason()).isEqualTo("backend a went away; no backend factory is registered");
        for (int i = 1; i < ev.size(); i++) {
            assertThat(ev.get(i).previous()).isEqualTo(ev.get(i - 1).current());
        }
    }

    @Test
    void aNeverBoundDeviceFailsAccessesAfterTheTimeoutWithTheReason() throws Exception {
        rig = new DeviceRig(Map.of(DeviceSettings.ACCESS_TIMEOUT_MS, 50L));
        assertThatThrownBy(() -> rig.device.region(0)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("never been bound").hasMessageContaining("no backend factory is registered");
        assertThatThrownBy(() -> rig.device.reset()).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("has had no backend for 50 ms").hasMessageContaining("gave up on reset");
        assertThat(rig.device.awaitBound(Duration.ofMillis(10))).isFalse();
    }

    private java.util.List<DeviceEvent> events() {
        return java.util.List.copyOf(rig.events);
    }

    private void awaitReason(String part) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!rig.device.stateReason().contains(part)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("reason never contained '" + part + "': " + rig.device.stateReason());
            }
            Thread.sleep(2);
        }
    }
}
