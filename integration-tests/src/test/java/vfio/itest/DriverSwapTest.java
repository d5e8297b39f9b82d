package vfio.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.osgi.service.cm.Configuration;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;
import vfio.api.device.Device;
import vfio.api.device.DeviceState;

/**
 * The edu driver keeps computing factorials while the backend under it is replaced by another
 * version of its bundle (bundle update to a jar with another Bundle-Version, and back): through
 * vfio-user against the platform's embedded edu emulation, and through the Apple backend against its
 * simulated dext. No result may be wrong; the driver sets the device up again after each swap.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class DriverSwapTest extends PlatformTestBase {
    private static final int SWAPS = 6;

    @Test
    public void factorialsStayCorrectWhileTheVfioUserBackendIsSwappedBetweenVersions() throws Exception {
        // With no device configured the platform serves the emulated edu as edu0 over vfio-user.
        Device edu0 = Devices.await(context, "edu0", Duration.ofSeconds(10));
        swapUnderLoad(edu0, "vfio.backend.user");
    }

    @Test
    public void factorialsStayCorrectWhileTheAppleBackendIsSwappedBetweenVersions() throws Exception {
        Configuration sim = cm.getConfiguration("vfio.backend.apple.sim", "?");
        Dictionary<String, Object> p = new Hashtable<>();
        p.put("bdf", "00:02.0");
        sim.update(p);
        Devices.configure(cm, "mac0", "apple:pci:00:02.0");
        Device mac0 = Devices.await(context, "mac0", Duration.ofSeconds(10));
        swapUnderLoad(mac0, "vfio.backend.apple");
    }

    private void swapUnderLoad(Device device, String backendBundle) throws Exception {
        Devices.awaitState(device, DeviceState.BOUND, Duration.ofSeconds(10));
        assertEquals(backendBundle, device.backendId().orElse(""));
        FactorialWorker worker = new FactorialWorker(device).start();
        awaitProgress(worker, 5);

        Bundle backend = Devices.installed(context, backendBundle);
        File v1 = new File(Platform.bundlesDir(), backendBundle + ".jar");
        File v2 = BundleVersions.withVersion(v1, "0.2.0");
        List<String> versions = new ArrayList<>();
        for (int i = 0; i < SWAPS; i++) {
            File next = i % 2 == 0 ? v2 : v1;
            try (var in = BundleVersions.open(next)) {
                backend.update(in);
            }
            Devices.awaitBackend(device, backendBundle, HotSwapTest.REBIND_BOUND);
            versions.add(backend.getVersion().toString());
            awaitProgress(worker, 3);
        }
        assertTrue("the worker stopped", worker.stop(Duration.ofSeconds(20)));
        System.out.printf("%s swaps %s: %d factorials correct, %d interrupted by a swap, driver set up %d times%n",
                backendBundle, versions, worker.correct.get(), worker.interrupted.get(), worker.reopened.get());
        assertEquals("wrong results: " + worker.wrong, List.of(), new ArrayList<>(worker.wrong));
        assertTrue("both versions served the device: " + versions,
                versions.contains("0.2.0") && versions.stream().anyMatch(v -> !v.equals("0.2.0")));
        assertEquals(DeviceState.BOUND, device.state());
    }

    /** Waits until the worker computed {@code n} more correct factorials after this call. */
    private static void awaitProgress(FactorialWorker worker, int n) throws InterruptedException {
        long target = worker.correct.get() + n;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (worker.correct.get() < target) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no factorial progress in 30 s (correct " + worker.correct.get()
                        + ", interrupted " + worker.interrupted.get() + ", wrong " + worker.wrong + ")");
            }
            Thread.sleep(10);
        }
    }

}
