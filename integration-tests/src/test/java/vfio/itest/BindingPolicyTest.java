package vfio.itest;

import static org.junit.Assert.assertEquals;

import java.time.Duration;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.osgi.service.cm.Configuration;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import vfio.api.device.Device;

/**
 * Which backend a device binds to: memory backends with different scores play a worse and a better
 * backend for the same devices. A target filter pins a device; greedy devices move to a better
 * backend when it appears; sticky devices stay until their backend leaves.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class BindingPolicyTest extends PlatformTestBase {
    private static final Duration T = Duration.ofSeconds(10);

    @Test
    public void pinnedGreedyAndStickyDevicesBindAsConfigured() throws Exception {
        String pid = "-" + ProcessHandle.current().pid();
        Configuration low = Devices.memoryBackend(cm, "mem-low", 50);
        Configuration mid = Devices.memoryBackend(cm, "mem-mid", 150);
        // ConfigAdmin creates backends asynchronously: devices made earlier would bind to whatever exists.
        Devices.awaitBackendService(context, "mem-low", T);
        Devices.awaitBackendService(context, "mem-mid", T);

        Devices.configure(cm, "pinned", "memory:itest-pinned" + pid, "backend.target", "(vfio.backend.id=mem-low)");
        Devices.configure(cm, "greedy", "memory:itest-greedy" + pid);
        Devices.configure(cm, "sticky", "memory:itest-sticky" + pid, "rebind.policy", "sticky");
        Device pinned = Devices.await(context, "pinned", T);
        Device greedy = Devices.await(context, "greedy", T);
        Device sticky = Devices.await(context, "sticky", T);

        Devices.awaitBackend(pinned, "mem-low", T);
        Devices.awaitBackend(greedy, "mem-mid", T);
        Devices.awaitBackend(sticky, "mem-mid", T);

        // A better backend appears: only the greedy device moves.
        Configuration high = Devices.memoryBackend(cm, "mem-high", 300);
        Devices.awaitBackend(greedy, "mem-high", T);
        Thread.sleep(300);
        assertEquals("sticky stays", "mem-mid", sticky.backendId().orElse(""));
        assertEquals("pinned stays", "mem-low", pinned.backendId().orElse(""));

        // The sticky device's backend leaves: it moves to the best remaining one.
        mid.delete();
        Devices.awaitBackend(sticky, "mem-high", T);

        // The pinned device's only allowed backend leaves: it waits, unbound, and comes back with it.
        low.delete();
        Devices.awaitState(pinned, vfio.api.device.DeviceState.UNBOUND, T);
        Devices.memoryBackend(cm, "mem-low", 50);
        Devices.awaitBackend(pinned, "mem-low", T);
        high.delete();
    }
}
