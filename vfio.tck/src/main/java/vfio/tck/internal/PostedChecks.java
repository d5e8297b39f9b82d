package vfio.tck.internal;

import java.util.ArrayList;
import java.util.List;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.tck.Hooks.Scratch;

/**
 * Posted writes ({@code regionWrite(..., posted = true)}): the caller does not wait for completion,
 * but PCI ordering still holds: a later read sees the write, and writes complete in program order.
 * Checked with and without {@link BackendCapability#POSTED_WRITES} (without it the flag is ignored,
 * which must be just as correct).
 */
final class PostedChecks {
    private PostedChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("posted.visible-to-read",
                        "DeviceIoOps.regionWrite(posted = true): a posted write is seen by a following read (PCI: a read"
                                + " flushes posted writes)",
                        PostedChecks::visible),
                Definition.of("posted.in-order",
                        "DeviceIoOps.regionWrite(posted = true): posted writes complete in program order, also mixed"
                                + " with non-posted writes (BackendCapability.POSTED_WRITES)",
                        PostedChecks::inOrder));
    }

    /** @return (region, offset, width) slots in the scratch ranges, at most {@code max} */
    static List<long[]> slots(Probe p, int max) {
        List<long[]> out = new ArrayList<>();
        for (Scratch s : RegionChecks.scratch(p, false)) {
            int w = s.memoryLike() ? 8 : s.registerSize();
            for (long off = (s.offset() + w - 1) / w * w; off + w <= s.end() && out.size() < max; off += w) {
                out.add(new long[] {s.region(), off, w});
            }
        }
        return out;
    }

    private static void visible(Probe p) {
        List<long[]> slots = slots(p, 8);
        DeviceIoOps ops = p.open();
        note(p, ops);
        for (long[] s : slots) {
            long v = Io.pattern((int) s[2]);
            Io.write(ops, (int) s[0], s[1], (int) s[2], v, true);
            long got = Io.read(ops, (int) s[0], s[1], (int) s[2]);
            p.expect(got == v, "posted write of " + Describe.hex(v) + " at " + Describe.hex(s[1]) + " of "
                    + Describe.region((int) s[0]) + " was not seen by the next read (" + Describe.hex(got) + ")");
        }
    }

    private static void inOrder(Probe p) {
        List<long[]> slots = slots(p, 8);
        DeviceIoOps ops = p.open();
        note(p, ops);
        long[] s = slots.get(0);
        int r = (int) s[0];
        long off = s[1];
        int w = (int) s[2];
        String at = " at " + Describe.hex(off) + " of " + Describe.region(r);
        long a = Io.pattern(w);
        long b = Io.pattern(w);
        Io.write(ops, r, off, w, a, true);
        Io.write(ops, r, off, w, b, true);
        expect(p, ops, r, off, w, b, "two posted writes" + at);
        Io.write(ops, r, off, w, a, true);
        Io.write(ops, r, off, w, b, false);
        expect(p, ops, r, off, w, b, "a posted then a non-posted write" + at);
        Io.write(ops, r, off, w, a, false);
        Io.write(ops, r, off, w, b, true);
        expect(p, ops, r, off, w, b, "a non-posted then a posted write" + at);
        for (int i = 1; i <= 64; i++) {
            Io.write(ops, r, off, w, i, true);
        }
        expect(p, ops, r, off, w, 64, "64 posted writes of 1..64" + at);
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < slots.size(); i++) {
                long[] t = slots.get(i);
                Io.write(ops, (int) t[0], t[1], (int) t[2], round * 0x100 + i + 1, true);
            }
        }
        for (int i = 0; i < slots.size(); i++) {
            long[] t = slots.get(i);
            expect(p, ops, (int) t[0], t[1], (int) t[2], 0x100 + i + 1, "two rounds of posted writes over "
                    + slots.size() + " registers, at " + Describe.hex(t[1]) + " of " + Describe.region((int) t[0]));
        }
    }

    private static void expect(Probe p, DeviceIoOps ops, int r, long off, int w, long want, String what) {
        long got = Io.read(ops, r, off, w);
        p.expect(got == want, what + " left " + Describe.hex(got) + " instead of the last value " + Describe.hex(want));
    }

    private static void note(Probe p, DeviceIoOps ops) {
        p.note(ops.capabilities().contains(BackendCapability.POSTED_WRITES) ? "backend claims POSTED_WRITES"
                : "backend does not claim POSTED_WRITES (the flag is ignored)");
    }
}
