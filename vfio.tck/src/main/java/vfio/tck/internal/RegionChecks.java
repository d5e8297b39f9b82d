package vfio.tck.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.IntFunction;
import vfio.api.backend.DeviceIoOps;
import vfio.api.device.DeviceInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionInfo;
import vfio.tck.Hooks;
import vfio.tck.Hooks.KnownValue;
import vfio.tck.Hooks.Scratch;

/** {@link DeviceIoOps#regionRead} and {@link DeviceIoOps#regionWrite} on the ranges the hooks declare. */
final class RegionChecks {
    private static final int[] WIDTHS = {1, 2, 4, 8};
    /** Bulk transfers are capped here to keep the kit fast on a slow transport. */
    private static final int MAX_BULK = 64 * 1024;

    private RegionChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("region.width-roundtrip",
                        "DeviceIoOps.regionRead/regionWrite: accesses of 1, 2, 4 and 8 bytes read back what was written",
                        RegionChecks::widthRoundTrip),
                Definition.of("region.little-endian",
                        "DeviceIoOps.regionRead/regionWrite (vfio.api.device: values are little-endian): a narrower read"
                                + " sees the low-order bytes of a wider write",
                        RegionChecks::littleEndian),
                Definition.of("region.known-values",
                        "DeviceIoOps.regionRead: registers read the values the device defines, little-endian",
                        RegionChecks::knownValues),
                Definition.of("region.bulk-roundtrip",
                        "DeviceIoOps.regionRead/regionWrite: transfers of any length at any offset copy the bytes in"
                                + " address order",
                        RegionChecks::bulkRoundTrip),
                Definition.of("region.buffer-contract",
                        "DeviceIoOps.regionRead/regionWrite: transfer exactly remaining() bytes at the buffer's position"
                                + " and advance it, leaving the rest alone, for heap, direct and sliced buffers of either"
                                + " byte order",
                        RegionChecks::bufferContract),
                Definition.of("region.access-at-end",
                        "DeviceIoOps.regionRead/regionWrite: accesses that end exactly at the end of the region work"
                                + " (no off-by-one at the boundary)",
                        RegionChecks::accessAtEnd));
    }

    /** @return the scratch ranges, or skips the check if none is declared */
    static List<Scratch> scratch(Probe p, boolean memoryLikeOnly) {
        List<Scratch> s = new ArrayList<>();
        for (Scratch r : p.subject.hooks().scratch()) {
            if (r.memoryLike() || !memoryLikeOnly) {
                s.add(r);
            }
        }
        if (s.isEmpty()) {
            throw p.skip(memoryLikeOnly ? "needs a memory-like scratch range (Hooks.withMemory)"
                    : "needs a scratch range (Hooks.withScratch or withMemory)");
        }
        return s;
    }

    /** @return the offsets to test a width at: the start, the middle and the end of the range, aligned */
    static Set<Long> offsets(Scratch s, int width) {
        Set<Long> out = new LinkedHashSet<>();
        if (!s.memoryLike()) {
            for (long o = s.offset(); o < s.end(); o += s.registerSize()) {
                out.add(o);
            }
            return out;
        }
        long first = (s.offset() + width - 1) / width * width;
        long last = (s.end() - width) / width * width;
        if (first > last) {
            return out;
        }
        out.add(first);
        out.add((first + (last - first) / 2) / width * width);
        out.add(last);
        return out;
    }

    /** @return the widths a range takes */
    static int[] widths(Scratch s) {
        if (s.memoryLike()) {
            return WIDTHS;
        }
        return s.registerSize() == 8 ? new int[] {4, 8} : new int[] {4};
    }

    private static void widthRoundTrip(Probe p) {
        List<Scratch> ranges = scratch(p, false);
        DeviceIoOps ops = p.open();
        int done = 0;
        for (Scratch s : ranges) {
            for (int w : widths(s)) {
                for (long off : offsets(s, w)) {
                    long v = Io.pattern(w);
                    Io.write(ops, s.region(), off, w, v, false);
                    long got = Io.read(ops, s.region(), off, w);
                    p.expect(got == v, "wrote " + w + " bytes " + Describe.hex(v) + " at " + Describe.hex(off) + " of "
                            + Describe.region(s.region()) + ", read back " + Describe.hex(got));
                    done++;
                }
            }
        }
        p.note(done + " round trips");
    }

    private static void littleEndian(Probe p) {
        List<Scratch> ranges = scratch(p, true);
        DeviceIoOps ops = p.open();
        for (Scratch s : ranges) {
            long off = (s.offset() + 7) / 8 * 8;
            if (off + 8 > s.end()) {
                continue;
            }
            int r = s.region();
            Io.write(ops, r, off, 8, 0x0807060504030201L, false);
            expectRead(p, ops, r, off, 1, 0x01);
            expectRead(p, ops, r, off + 1, 1, 0x02);
            expectRead(p, ops, r, off, 2, 0x0201);
            expectRead(p, ops, r, off + 6, 2, 0x0807);
            expectRead(p, ops, r, off, 4, 0x04030201L);
            expectRead(p, ops, r, off + 4, 4, 0x08070605L);
            Io.write(ops, r, off, 4, 0x11223344L, false);
            expectRead(p, ops, r, off + 3, 1, 0x11);
            Io.write(ops, r, off + 2, 2, 0xaabbL, false);
            expectRead(p, ops, r, off, 4, 0xaabb3344L);
            expectRead(p, ops, r, off, 8, 0x08070605aabb3344L);
            return;
        }
        throw p.skip("no memory-like scratch range holds 8 aligned bytes");
    }

    private static void expectRead(Probe p, DeviceIoOps ops, int region, long off, int width, long expected) {
        long got = Io.read(ops, region, off, width);
        p.expect(got == expected, "read of " + width + " bytes at " + Describe.hex(off) + " of " + Describe.region(region)
                + " returned " + Describe.hex(got) + ", expected " + Describe.hex(expected) + " (little-endian)");
    }

    private static void knownValues(Probe p) {
        List<KnownValue> known = p.subject.hooks().knownValues();
        if (known.isEmpty()) {
            throw p.skip("needs a register with a known value (Hooks.withKnownValue)");
        }
        DeviceIoOps ops = p.open();
        for (KnownValue k : known) {
            long got = Io.read(ops, k.region(), k.offset(), k.width());
            long want = Io.mask(k.value(), k.width());
            p.expect(got == want, "register at " + Describe.hex(k.offset()) + " of " + Describe.region(k.region())
                    + " read " + Describe.hex(got) + " (" + k.width() + " bytes), the device defines " + Describe.hex(want));
        }
    }

    private static void bulkRoundTrip(Probe p) {
        List<Scratch> ranges = scratch(p, true);
        DeviceIoOps ops = p.open();
        for (Scratch s : ranges) {
            int len = (int) Math.min(s.length(), MAX_BULK);
            int r = s.region();
            byte[] data = Io.random(len);
            Io.writeBytes(ops, r, s.offset(), data, false);
            byte[] back = Io.readBytes(ops, r, s.offset(), len);
            p.expect(Arrays.equals(data, back), "bulk write of " + len + " bytes at " + Describe.hex(s.offset()) + " of "
                    + Describe.region(r) + " read back differently from byte " + Arrays.mismatch(data, back));
            int[][] cases = {{1, 3}, {5, 7}, {3, 13}, {1, Math.max(1, Math.min(len - 2, 1001))}};
            for (int[] c : cases) {
                if (c[0] + c[1] > len) {
                    continue;
                }
                long off = s.offset() + c[0];
                boolean hasAfter = c[0] + c[1] < len;
                byte before = Io.readBytes(ops, r, off - 1, 1)[0];
                byte after = hasAfter ? Io.readBytes(ops, r, off + c[1], 1)[0] : 0;
                byte[] d = Io.random(c[1]);
                Io.writeBytes(ops, r, off, d, false);
                byte[] b = Io.readBytes(ops, r, off, c[1]);
                p.expect(Arrays.equals(d, b), "unaligned transfer of " + c[1] + " bytes at " + Describe.hex(off) + " of "
                        + Describe.region(r) + " read back " + Describe.bytes(b) + ", wrote " + Describe.bytes(d));
                p.expect(Io.readBytes(ops, r, off - 1, 1)[0] == before && (!hasAfter
                        || Io.readBytes(ops, r, off + c[1], 1)[0] == after), "unaligned write of " + c[1] + " bytes at "
                                + Describe.hex(off) + " of " + Describe.region(r) + " changed a byte next to it");
            }
        }
    }

    private static void bufferContract(Probe p) {
        List<Scratch> ranges = scratch(p, false);
        Scratch s = ranges.get(0);
        int w = s.memoryLike() ? 8 : s.registerSize();
        long off = offsets(s, w).iterator().next();
        int r = s.region();
        DeviceIoOps ops = p.open();
        List<String> kinds = List.of("heap big-endian", "heap little-endian", "direct big-endian", "direct little-endian",
                "slice of a wrapped array");
        IntFunction<ByteBuffer> heap = ByteBuffer::allocate;
        for (String kind : kinds) {
            ByteBuffer buf = switch (kind) {
                case "heap big-endian" -> heap.apply(w + 8);
                case "heap little-endian" -> heap.apply(w + 8).order(ByteOrder.LITTLE_ENDIAN);
                case "direct big-endian" -> ByteBuffer.allocateDirect(w + 8);
                case "direct little-endian" -> ByteBuffer.allocateDirect(w + 8).order(ByteOrder.LITTLE_ENDIAN);
                default -> ByteBuffer.wrap(new byte[w + 13], 5, w + 8).slice();
            };
            long v = Io.pattern(w);
            byte[] bytes = Io.encode(v, w);
            // write from position 3, with guard bytes before and after the data
            for (int i = 0; i < buf.capacity(); i++) {
                buf.put(i, (byte) 0xa5);
            }
            buf.position(3);
            buf.put(bytes);
            buf.position(3).limit(3 + w);
            ops.regionWrite(r, off, buf, false);
            p.expect(buf.position() == 3 + w && buf.limit() == 3 + w, "regionWrite from a " + kind + " buffer left position "
                    + buf.position() + " limit " + buf.limit() + "; expected both at " + (3 + w));
            long got = Io.read(ops, r, off, w);
            p.expect(got == v, "regionWrite from a " + kind + " buffer at position 3 wrote " + Describe.hex(got)
                    + ", expected " + Describe.hex(v));
            // read into position 3 of a buffer full of guard bytes
            buf.clear();
            for (int i = 0; i < buf.capacity(); i++) {
                buf.put(i, (byte) 0xa5);
            }
            buf.position(3).limit(3 + w);
            ops.regionRead(r, off, buf);
            p.expect(buf.position() == 3 + w && buf.limit() == 3 + w, "regionRead into a " + kind + " buffer left position "
                    + buf.position() + " limit " + buf.limit() + "; expected both at " + (3 + w));
            byte[] all = new byte[buf.capacity()];
            buf.duplicate().clear().get(all);
            byte[] expected = new byte[all.length];
            Arrays.fill(expected, (byte) 0xa5);
            System.arraycopy(bytes, 0, expected, 3, w);
            p.expect(Arrays.equals(all, expected), "regionRead into a " + kind + " buffer at position 3 left "
                    + Describe.bytes(all) + ", expected " + Describe.bytes(expected) + " (data at 3, the rest untouched)");
        }
    }

    private static void accessAtEnd(Probe p) {
        DeviceIoOps ops = p.open();
        int done = 0;
        for (Scratch s : p.subject.hooks().scratch()) {
            RegionInfo info = ops.regionInfo(s.region());
            if (s.end() != info.size()) {
                continue;
            }
            for (int w : widths(s)) {
                long off = s.memoryLike() ? info.size() - w : info.size() - s.registerSize();
                long v = Io.pattern(w);
                Io.write(ops, s.region(), off, w, v, false);
                long got = Io.read(ops, s.region(), off, w);
                p.expect(got == v, "wrote " + w + " bytes at " + Describe.hex(off) + ", the end of "
                        + Describe.region(s.region()) + ", read back " + Describe.hex(got));
                done++;
            }
            if (s.memoryLike() && s.length() >= 16) {
                byte[] d = Io.random(16);
                Io.writeBytes(ops, s.region(), info.size() - 16, d, false);
                p.expect(Arrays.equals(d, Io.readBytes(ops, s.region(), info.size() - 16, 16)),
                        "the last 16 bytes of " + Describe.region(s.region()) + " did not read back");
                done++;
            }
        }
        DeviceInfo dev = ops.deviceInfo();
        if (dev.isPci() && dev.numRegions() > Pci.REGION_CONFIG) {
            RegionInfo config = ops.regionInfo(Pci.REGION_CONFIG);
            if (config.has(RegionInfo.FLAG_READ) && config.size() >= 4) {
                Io.read(ops, Pci.REGION_CONFIG, config.size() - 4, 4);
                Io.read(ops, Pci.REGION_CONFIG, config.size() - 1, 1);
                done += 2;
            }
        }
        for (Hooks.KnownValue k : p.subject.hooks().knownValues()) {
            if (k.offset() + k.width() == ops.regionInfo(k.region()).size()) {
                Io.read(ops, k.region(), k.offset(), k.width());
                done++;
            }
        }
        if (done == 0) {
            throw p.skip("needs a scratch range or known value at the end of a region, or a PCI config space");
        }
    }
}
