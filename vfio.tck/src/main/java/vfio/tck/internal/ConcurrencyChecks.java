package vfio.tck.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.device.IrqInfo;
import vfio.tck.Hooks.Scratch;

/**
 * {@link DeviceIoOps} threading: every method may be called from several threads at once. Threads
 * start together at a barrier and work on disjoint offsets, so every value read back is known.
 */
final class ConcurrencyChecks {
    static final int THREADS = 4;
    static final int PAIRS = 500;

    private ConcurrencyChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("concurrency.disjoint-io",
                        "DeviceIoOps (threading): region reads and writes from several threads at once each see their"
                                + " own data (" + THREADS + " threads, or one per scratch register, x " + PAIRS + " write/read"
                                + " pairs on disjoint offsets)",
                        ConcurrencyChecks::disjointIo),
                Definition.of("concurrency.io-with-irq-and-dma",
                        "DeviceIoOps (threading): region I/O runs correctly while other threads trigger interrupts and"
                                + " map and unmap DMA",
                        ConcurrencyChecks::ioWithIrqAndDma));
    }

    /** A thread's own part of a scratch range. */
    private record Slot(int region, long offset, int width, int length) {
    }

    /** @return {@code n} disjoint slots, or as many as there are if at least {@code min}; or skips */
    private static List<Slot> slots(Probe p, int n, int min) {
        List<Slot> best = List.of();
        for (Scratch s : RegionChecks.scratch(p, false)) {
            List<Slot> out = new ArrayList<>();
            if (s.memoryLike()) {
                long stride = Math.min(256, s.length() / n / 8 * 8);
                long base = (s.offset() + 7) / 8 * 8;
                for (int i = 0; i < n && stride >= 8 && base + (i + 1) * stride <= s.end(); i++) {
                    out.add(new Slot(s.region(), base + i * stride, 8, (int) stride));
                }
            } else {
                for (int i = 0; i < n && (i + 1) * s.registerSize() <= s.length(); i++) {
                    out.add(new Slot(s.region(), s.offset() + (long) i * s.registerSize(), s.registerSize(), s.registerSize()));
                }
            }
            if (out.size() == n) {
                return out;
            }
            if (out.size() > best.size()) {
                best = out;
            }
        }
        if (best.size() >= min) {
            return best;
        }
        throw p.skip("needs a scratch range with room for " + min + " threads (" + min + " registers or " + 8 * min
                + " bytes)");
    }

    /** Writes and reads back its slot {@code pairs} times; every 8th pair a bulk transfer if the slot allows. */
    private static void hammer(Probe p, DeviceIoOps ops, Slot slot, int thread, int pairs, AtomicInteger failures) {
        for (int k = 0; k < pairs && failures.get() < 5; k++) {
            if (slot.length() >= 16 && k % 8 == 7) {
                byte[] d = Io.random(slot.length());
                Io.writeBytes(ops, slot.region(), slot.offset(), d, false);
                byte[] back = Io.readBytes(ops, slot.region(), slot.offset(), slot.length());
                if (!Arrays.equals(d, back)) {
                    failures.incrementAndGet();
                    p.problem("thread " + thread + " wrote " + slot.length() + " bytes at " + Describe.hex(slot.offset())
                            + " of " + Describe.region(slot.region()) + " and read back other data (first difference at byte "
                            + Arrays.mismatch(d, back) + ")");
                }
                continue;
            }
            long v = Io.mask(((long) (thread + 1) << 40) ^ ((long) k << 8) ^ 0x5a5a5a5a5aL * (thread + 1), slot.width());
            Io.write(ops, slot.region(), slot.offset(), slot.width(), v, false);
            long got = Io.read(ops, slot.region(), slot.offset(), slot.width());
            if (got != v) {
                failures.incrementAndGet();
                p.problem("thread " + thread + " wrote " + Describe.hex(v) + " at " + Describe.hex(slot.offset()) + " of "
                        + Describe.region(slot.region()) + " and read back " + Describe.hex(got) + " (pair " + k + ")");
            }
        }
    }

    /** Runs the tasks on their own threads, started together; fails the check if one throws. */
    private static void together(Probe p, List<Runnable> tasks) throws Exception {
        CyclicBarrier start = new CyclicBarrier(tasks.size());
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            Runnable task = tasks.get(i);
            Thread t = new Thread(() -> {
                try {
                    start.await(p.subject.timeout().toMillis(), TimeUnit.MILLISECONDS);
                    task.run();
                } catch (Problem e) {
                    p.problem(e.getMessage());
                } catch (Exception | Error e) {
                    p.problem(Thread.currentThread().getName() + " failed: " + Describe.exception(e));
                }
            }, "vfio-tck worker " + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join(p.subject.checkTimeout().toMillis());
            if (t.isAlive()) {
                throw new Problem(t.getName() + " did not finish: a backend call hung while others ran");
            }
        }
    }

    private static void disjointIo(Probe p) throws Exception {
        List<Slot> slots = slots(p, THREADS, 2);
        DeviceIoOps ops = p.open();
        AtomicInteger failures = new AtomicInteger();
        List<Runnable> tasks = new ArrayList<>();
        p.note(slots.size() + " threads");
        for (int i = 0; i < slots.size(); i++) {
            int thread = i;
            tasks.add(() -> hammer(p, ops, slots.get(thread), thread, PAIRS, failures));
        }
        together(p, tasks);
    }

    private static void ioWithIrqAndDma(Probe p) throws Exception {
        List<Slot> slots = slots(p, 2, 1);
        DeviceIoOps ops = p.open();
        IrqInfo irq = null;
        for (int i = 0; i < ops.deviceInfo().numIrqs() && irq == null; i++) {
            IrqInfo info = ops.irqInfo(i);
            if (info.count() > 0) {
                irq = info;
            }
        }
        boolean dma = ops.capabilities().contains(BackendCapability.DMA);
        if (irq == null && !dma) {
            throw p.skip("the device has neither IRQ vectors nor DMA");
        }
        AtomicInteger failures = new AtomicInteger();
        List<Runnable> tasks = new ArrayList<>();
        for (int i = 0; i < slots.size(); i++) {
            int thread = i;
            tasks.add(() -> hammer(p, ops, slots.get(thread), thread, PAIRS / 2, failures));
        }
        KitSignal signal = irq != null ? p.signal() : null;
        if (irq != null) {
            IrqInfo target = irq;
            ops.setIrqs(IrqSet.enable(target.index(), List.of(signal)));
            tasks.add(() -> {
                for (int k = 0; k < 100; k++) {
                    ops.setIrqs(IrqSet.one(target.index(), IrqSet.Action.TRIGGER, 0));
                    if (target.has(IrqInfo.FLAG_AUTOMASKED)) {
                        ops.setIrqs(IrqSet.one(target.index(), IrqSet.Action.UNMASK, 0));
                    }
                }
            });
        }
        if (dma) {
            KitDma m = p.dma(1);
            tasks.add(() -> {
                for (int k = 0; k < 50; k++) {
                    long iova = ops.dmaMap(m, DmaChecks.IOVA_BASE, true, true);
                    ops.dmaUnmap(iova, m.size());
                }
            });
        }
        together(p, tasks);
        if (signal != null) {
            p.expect(signal.await(p.subject.timeout()), "100 triggers of vector 0 of " + Describe.irq(irq)
                    + " made while other threads did I/O signalled nothing");
            ops.setIrqs(IrqSet.disable(irq.index()));
        }
    }
}
