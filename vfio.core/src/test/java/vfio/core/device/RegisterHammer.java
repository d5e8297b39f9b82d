package vfio.core.device;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Region;

/**
 * The I/O thread of the swap tests: writes increasing values to its own registers (mapped, unaligned
 * slow path, BAR2's hole) and reads each back. A read must return the last value whose write
 * succeeded, or one whose write failed (it may have landed); anything else is an error.
 */
final class RegisterHammer {
    private RegisterHammer() {
    }

    static void hammer(int id, Region bar0, Region bar2, AtomicBoolean stop, ConcurrentLinkedQueue<String> errors,
            AtomicLong okReads, AtomicLong unavailable) {
        long fast = 0x1000L + id * 64L;      // aligned: mapped fast path
        long slow = 0x2000L + id * 64L + 1;  // unaligned: slow path
        long sparse = 0x1000L + id * 8L;     // bar2's hole: slow path
        long[] lastSure = new long[3];       // last value known to be written
        long[] maybe = new long[3];          // a value whose write may or may not have landed, or -1
        java.util.Arrays.fill(maybe, -1);
        long counter = ((long) id << 48) | 1;
        while (!stop.get()) {
            for (int k = 0; k < 3; k++) {
                Region r = k == 2 ? bar2 : bar0;
                long off = k == 0 ? fast : k == 1 ? slow : sparse;
                long value = ++counter;
                try {
                    r.write64(off, value);
                    lastSure[k] = value;
                    maybe[k] = -1;
                } catch (DeviceUnavailableException e) {
                    maybe[k] = value;
                    unavailable.incrementAndGet();
                } catch (RuntimeException e) {
                    errors.add("write: " + e);
                }
                try {
                    long got = r.read64(off);
                    if (got != lastSure[k] && got != maybe[k]) {
                        errors.add("thread " + id + " read 0x" + Long.toHexString(got) + " at " + r.name() + "+0x"
                                + Long.toHexString(off) + ", expected 0x" + Long.toHexString(lastSure[k])
                                + (maybe[k] >= 0 ? " or 0x" + Long.toHexString(maybe[k]) : ""));
                    } else {
                        lastSure[k] = got;
                        maybe[k] = -1;
                        okReads.incrementAndGet();
                    }
                } catch (DeviceUnavailableException e) {
                    unavailable.incrementAndGet();
                } catch (RuntimeException e) {
                    errors.add("read: " + e);
                }
            }
        }
    }
}
