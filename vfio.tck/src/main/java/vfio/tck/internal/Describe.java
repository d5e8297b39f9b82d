package vfio.tck.internal;

import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;
import vfio.api.device.IrqInfo;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

/** How the kit names things in messages. */
final class Describe {
    private Describe() {
    }

    /** @return the exception's type and message, and where the backend threw it */
    static String exception(Throwable e) {
        StackTraceElement[] st = e.getStackTrace();
        String where = st.length > 0 ? " at " + st[0] : "";
        return e.getClass().getName() + " (" + e.getMessage() + ")" + where;
    }

    static String region(int index) {
        return "region " + index + " (" + Pci.regionName(index) + ")";
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    static String area(SparseArea a) {
        return "[" + hex(a.offset()) + ", " + hex(a.end()) + ")";
    }

    static String areas(List<SparseArea> areas) {
        return areas.stream().map(Describe::area).collect(Collectors.joining(", ", "[", "]"));
    }

    static String bytes(byte[] b) {
        return HexFormat.of().formatHex(b, 0, Math.min(b.length, 32)) + (b.length > 32 ? "..." : "");
    }

    /** @return every field of a region info, capabilities by content (records compare arrays by identity) */
    static String canonical(RegionInfo r) {
        StringBuilder b = new StringBuilder();
        b.append("index=").append(r.index()).append(" flags=").append(hex(r.flags())).append(" size=")
                .append(hex(r.size())).append(" offset=").append(hex(r.offset())).append(" caps=[");
        for (RegionCapability c : r.capabilities()) {
            if (c instanceof RegionCapability.Unknown u) {
                b.append("unknown ").append(u.id()).append(" v").append(u.version()).append(' ')
                        .append(HexFormat.of().formatHex(u.body()));
            } else {
                b.append(c);
            }
            b.append(';');
        }
        return b.append(']').toString();
    }

    static String irq(IrqInfo i) {
        return "IRQ index " + i.index() + " (" + Pci.irqName(i.index()) + ", " + i.count() + " vectors, flags "
                + hex(i.flags()) + ")";
    }
}
