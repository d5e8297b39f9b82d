package vfio.itest;

import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import vfio.api.device.Device;
import vfio.api.device.DeviceException;
import vfio.driver.edu.EduDriver;

/**
 * A driver that keeps computing factorials on an edu device and checks every result. When a backend
 * swap interrupts it (the device was reset, its interrupt went away), it does what a real driver
 * does: waits for the device to be bound again and sets it up anew.
 */
final class FactorialWorker implements Runnable {
    final AtomicLong correct = new AtomicLong();
    final AtomicLong interrupted = new AtomicLong();
    final AtomicLong reopened = new AtomicLong();
    final ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
    private final Device device;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread;

    FactorialWorker(Device device) {
        this.device = device;
        this.thread = new Thread(this, "factorials-" + device.name());
    }

    FactorialWorker start() {
        thread.start();
        return this;
    }

    /** Stops and joins; @return whether it stopped within the timeout */
    boolean stop(Duration timeout) throws InterruptedException {
        stop.set(true);
        thread.join(timeout.toMillis());
        return !thread.isAlive();
    }

    static int factorial(int n) {
        int f = 1;
        for (int i = 2; i <= n; i++) {
            f *= i;
        }
        return f;
    }

    @Override
    public void run() {
        EduDriver edu = null;
        int n = 0;
        while (!stop.get()) {
            try {
                if (edu == null) {
                    if (!device.awaitBound(Duration.ofSeconds(10))) {
                        continue;
                    }
                    edu = EduDriver.open(device, Duration.ofSeconds(3));
                    reopened.incrementAndGet();
                }
                n = n % 12 + 1;
                int result = edu.factorial(n);
                if (result != factorial(n)) {
                    wrong.add(n + "! = " + Integer.toUnsignedString(result) + ", expected " + factorial(n));
                } else {
                    correct.incrementAndGet();
                }
            } catch (DeviceException e) {
                // The backend went away mid-computation: set the device up again once it is back.
                interrupted.incrementAndGet();
                edu = closeQuietly(edu);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                wrong.add("unexpected " + e);
                edu = closeQuietly(edu);
            }
        }
        closeQuietly(edu);
    }

    private static EduDriver closeQuietly(EduDriver edu) {
        if (edu != null) {
            try {
                edu.close();
            } catch (DeviceException e) {
                // the device may be unbound; the core forgets the enable with the device anyway
            }
        }
        return null;
    }
}
