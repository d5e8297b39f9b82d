package vfio.backend.apple.internal;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import vfio.api.backend.IrqSignal;

/** An IrqSignal that counts and can be awaited. */
final class TestSignal implements IrqSignal {
    private final AtomicInteger count = new AtomicInteger();
    private final Semaphore fired = new Semaphore(0);

    @Override
    public int fd() {
        return -1;
    }

    @Override
    public void signal() {
        count.incrementAndGet();
        fired.release();
    }

    /** @return whether a signal arrived within {@code seconds} (consumes it) */
    boolean await(long seconds) throws InterruptedException {
        return fired.tryAcquire(seconds, TimeUnit.SECONDS);
    }

    int count() {
        return count.get();
    }
}
