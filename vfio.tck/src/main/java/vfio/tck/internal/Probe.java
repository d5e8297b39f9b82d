package vfio.tck.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.OpenRequest;
import vfio.posix.ErrnoException;
import vfio.posix.MappedMemory;
import vfio.tck.Subject;

/**
 * What a check works with: the subject, the devices it opened, the kit's own signals, DMA memory and
 * revoked placeholders, and the problems and notes it found. Every resource is released by {@link
 * #release()} at the end of the check (devices first, as the core closes the operations before it
 * frees what it handed to them). Used by one check's worker thread at a time, except the list of
 * problems, which concurrent helpers of a check may add to.
 */
final class Probe {
    private static final int MAX_PROBLEMS = 12;

    final Subject subject;
    private final List<DeviceIoOps> opened = new ArrayList<>();
    private final Deque<KitSignal> signals = new ArrayDeque<>();
    private final Deque<KitDma> dma = new ArrayDeque<>();
    private final Deque<MappedMemory> placeholders = new ArrayDeque<>();
    private final List<String> problems = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    Probe(Subject subject) {
        this.subject = subject;
    }

    /** @return the open request for the subject */
    OpenRequest request() {
        return new OpenRequest("vfio-tck", subject.address(), subject.timeout(), subject.options());
    }

    /** Opens the subject's device; the probe closes it at the end of the check unless {@link #close} did. */
    DeviceIoOps open() {
        DeviceIoOps ops = subject.factory().open(request());
        if (ops == null) {
            throw new Problem("BackendFactory.open returned null for " + subject.address());
        }
        synchronized (opened) {
            opened.add(ops);
        }
        return ops;
    }

    /** Opens with extra options. */
    DeviceIoOps open(Map<String, String> extraOptions) {
        Map<String, String> all = new java.util.HashMap<>(subject.options());
        all.putAll(extraOptions);
        DeviceIoOps ops = subject.factory().open(new OpenRequest("vfio-tck", subject.address(), subject.timeout(), all));
        if (ops != null) {
            synchronized (opened) {
                opened.add(ops);
            }
        }
        return ops;
    }

    /** Tracks operations opened some other way, so they are closed at the end of the check. */
    void track(DeviceIoOps ops) {
        synchronized (opened) {
            opened.add(ops);
        }
    }

    /** Closes a device now (a problem if close throws) and stops tracking it. */
    void close(DeviceIoOps ops) {
        synchronized (opened) {
            opened.remove(ops);
        }
        try {
            ops.close();
        } catch (RuntimeException e) {
            problem("DeviceIoOps.close threw " + Describe.exception(e) + "; close must never throw");
        }
    }

    /** @return a new signal, closed by the probe */
    KitSignal signal() throws ErrnoException {
        KitSignal s = KitSignal.create();
        signals.push(s);
        return s;
    }

    /** @return {@code n} new signals */
    List<KitSignal> signals(int n) throws ErrnoException {
        List<KitSignal> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(signal());
        }
        return list;
    }

    /** @return new zeroed DMA memory of {@code pages} pages, freed by the probe */
    KitDma dma(int pages) throws ErrnoException {
        KitDma m = KitDma.allocate(pages * MappedMemory.pageSize());
        dma.push(m);
        return m;
    }

    /** Hands a revoked range to the probe, which unmaps it at the end of the check. */
    void placeholder(MappedMemory revoked) {
        placeholders.push(revoked);
    }

    /** Records a contract violation; the check fails but goes on to find more. */
    void problem(String message) {
        synchronized (problems) {
            if (problems.size() < MAX_PROBLEMS) {
                problems.add(message);
            } else if (problems.size() == MAX_PROBLEMS) {
                problems.add("(more problems not shown)");
            }
        }
    }

    /** Records something a reader should know that is not a violation (e.g. the mask semantics seen). */
    void note(String message) {
        synchronized (notes) {
            notes.add(message);
        }
    }

    /**
     * @return the exception that ends the check as skipped (or failed, if problems were already
     *         found): {@code throw probe.skip("why")}
     */
    Skipped skip(String reason) {
        return new Skipped(reason);
    }

    /** Fails with {@code message} unless {@code condition}. @return {@code condition} */
    boolean expect(boolean condition, String message) {
        if (!condition) {
            problem(message);
        }
        return condition;
    }

    List<String> problems() {
        synchronized (problems) {
            return List.copyOf(problems);
        }
    }

    List<String> notes() {
        synchronized (notes) {
            return List.copyOf(notes);
        }
    }

    /**
     * Frees the kit's signals and DMA memory made so far (the devices using them must be closed
     * already); used between the cycles of a leak check. Placeholders stay until {@link #release()}.
     */
    void releaseKitResources() {
        while (!signals.isEmpty()) {
            signals.pop().close();
        }
        for (KitDma m : dma) {
            m.free();
        }
    }

    /** Closes every device still open, then frees the kit's resources. */
    void release() {
        List<DeviceIoOps> left;
        synchronized (opened) {
            left = new ArrayList<>(opened);
            opened.clear();
        }
        for (DeviceIoOps ops : left) {
            try {
                ops.close();
            } catch (RuntimeException e) {
                problem("DeviceIoOps.close threw " + Describe.exception(e) + "; close must never throw");
            }
        }
        releaseKitResources();
        while (!dma.isEmpty()) {
            dma.pop().close();
        }
        while (!placeholders.isEmpty()) {
            try {
                placeholders.pop().unmap();
            } catch (ErrnoException e) {
                problem("the kit could not unmap its placeholder: " + e.getMessage());
            }
        }
    }
}
