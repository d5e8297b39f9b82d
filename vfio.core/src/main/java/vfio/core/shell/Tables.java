package vfio.core.shell;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.RegionInfo;
import vfio.core.dto.BackendDTO;
import vfio.core.dto.DeviceDTO;
import vfio.core.dto.IrqDTO;
import vfio.core.dto.RegionDTO;

/** Renders the DTOs as plain-text tables and key/value blocks. Pure functions; no data gathering. */
public final class Tables {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault());

    private Tables() {
    }

    /** @return one row per device */
    public static String devices(List<DeviceDTO> devices) {
        if (devices.isEmpty()) {
            return "No devices. Create one with vfio:attach <name> <address>.";
        }
        Table t = new Table("NAME", "ADDRESS", "STATE", "BACKEND", "SINCE", "REASON");
        for (DeviceDTO d : devices) {
            t.row(d.name, d.address, d.state, dash(d.backend), time(d.since), d.reason);
        }
        return t.toString();
    }

    /** @return one row per backend, with score and reason if an address was given */
    public static String backends(List<BackendDTO> backends, String address) {
        if (backends.isEmpty()) {
            return "No backend factory is registered.";
        }
        Table t = address == null ? new Table("ID", "RANKING", "SERVICE", "BUNDLE")
                : new Table("ID", "RANKING", "SERVICE", "BUNDLE", "SCORE", "REASON");
        for (BackendDTO b : backends) {
            if (address == null) {
                t.row(b.id, String.valueOf(b.ranking), String.valueOf(b.serviceId), dash(b.bundle));
            } else {
                t.row(b.id, String.valueOf(b.ranking), String.valueOf(b.serviceId), dash(b.bundle),
                        String.valueOf(b.score), b.reason);
            }
        }
        return (address == null ? "" : "Matches for " + address + ":\n") + t;
    }

    /** @return the device as a key/value block */
    public static String device(DeviceDTO d) {
        List<String[]> kv = new ArrayList<>();
        kv.add(new String[] {"name", d.name});
        kv.add(new String[] {"address", d.address});
        kv.add(new String[] {"state", d.state + " since " + time(d.since)});
        kv.add(new String[] {"reason", d.reason});
        kv.add(new String[] {"backend", dash(d.backend)});
        if (d.rebindPolicy != null) {
            kv.add(new String[] {"rebind policy", d.rebindPolicy});
            kv.add(new String[] {"backend filter", d.backendTarget});
            kv.add(new String[] {"access timeout", d.accessTimeoutMs + " ms"});
        }
        if (d.numRegions + d.numIrqs > 0) {
            kv.add(new String[] {"flags", deviceFlags(d.flags)});
            kv.add(new String[] {"regions", String.valueOf(d.numRegions)});
            kv.add(new String[] {"irq indexes", String.valueOf(d.numIrqs)});
        } else {
            kv.add(new String[] {"device info", "never bound"});
        }
        int w = 0;
        for (String[] e : kv) {
            w = Math.max(w, e[0].length());
        }
        StringBuilder sb = new StringBuilder();
        for (String[] e : kv) {
            sb.append(pad(e[0], w)).append("  ").append(e[1]).append('\n');
        }
        return sb.substring(0, sb.length() - 1);
    }

    /** @return one row per region */
    public static String regions(String device, List<RegionDTO> regions) {
        if (regions.isEmpty()) {
            return "Device " + device + " has no regions.";
        }
        Table t = new Table("INDEX", "NAME", "SIZE", "FLAGS", "MAPPED");
        for (RegionDTO r : regions) {
            String mapped;
            if (r.size == 0) {
                mapped = "-";
            } else if (!r.mappingEnabled) {
                mapped = "disabled";
            } else if (r.mappedOffsets.length == 0) {
                mapped = "no (read/write)";
            } else {
                List<String> ranges = new ArrayList<>();
                for (int i = 0; i < r.mappedOffsets.length; i++) {
                    ranges.add("[0x" + Long.toHexString(r.mappedOffsets[i]) + ", 0x"
                            + Long.toHexString(r.mappedOffsets[i] + r.mappedSizes[i]) + ")");
                }
                mapped = String.join(" ", ranges);
            }
            t.row(String.valueOf(r.index), r.name, r.size == 0 ? "-" : Numbers.size(r.size), regionFlags(r.flags), mapped);
        }
        return t.toString();
    }

    /** @return one row per IRQ index */
    public static String irqs(String device, List<IrqDTO> irqs) {
        if (irqs.isEmpty()) {
            return "Device " + device + " has no IRQ indexes.";
        }
        Table t = new Table("INDEX", "NAME", "VECTORS", "FLAGS", "ENABLED", "COUNTS");
        for (IrqDTO q : irqs) {
            StringBuilder counts = new StringBuilder();
            for (int i = 0; i < q.counts.length && i < q.vectors; i++) {
                counts.append(i == 0 ? "" : " ").append(q.counts[i]);
            }
            t.row(String.valueOf(q.index), q.name, String.valueOf(q.vectors), irqFlags(q.flags),
                    q.enabled == 0 ? "no" : String.valueOf(q.enabled), counts.length() == 0 ? "-" : counts.toString());
        }
        return t.toString();
    }

    /**
     * @param base  the offset of {@code data[0]}
     * @return 16 bytes a line: offset, hex bytes, printable ASCII
     */
    public static String hexDump(long base, byte[] data) {
        StringBuilder sb = new StringBuilder();
        for (int line = 0; line < data.length; line += 16) {
            sb.append(String.format(Locale.ROOT, "%08x ", base + line));
            StringBuilder ascii = new StringBuilder();
            for (int i = 0; i < 16; i++) {
                if (i == 8) {
                    sb.append(' ');
                }
                if (line + i < data.length) {
                    int b = data[line + i] & 0xff;
                    sb.append(String.format(Locale.ROOT, " %02x", b));
                    ascii.append(b >= 0x20 && b < 0x7f ? (char) b : '.');
                } else {
                    sb.append("   ");
                }
            }
            sb.append("  |").append(ascii).append("|\n");
        }
        return sb.length() == 0 ? "" : sb.substring(0, sb.length() - 1);
    }

    static String deviceFlags(int flags) {
        List<String> f = new ArrayList<>();
        if ((flags & DeviceInfo.FLAG_PCI) != 0) {
            f.add("pci");
        }
        if ((flags & DeviceInfo.FLAG_RESET) != 0) {
            f.add("reset");
        }
        return f.isEmpty() ? "none" : String.join(",", f) + " (0x" + Integer.toHexString(flags) + ")";
    }

    static String regionFlags(int flags) {
        return ((flags & RegionInfo.FLAG_READ) != 0 ? "r" : "-") + ((flags & RegionInfo.FLAG_WRITE) != 0 ? "w" : "-")
                + ((flags & RegionInfo.FLAG_MMAP) != 0 ? "m" : "-");
    }

    static String irqFlags(int flags) {
        List<String> f = new ArrayList<>();
        if ((flags & IrqInfo.FLAG_EVENTFD) != 0) {
            f.add("eventfd");
        }
        if ((flags & IrqInfo.FLAG_MASKABLE) != 0) {
            f.add("maskable");
        }
        if ((flags & IrqInfo.FLAG_AUTOMASKED) != 0) {
            f.add("automasked");
        }
        if ((flags & IrqInfo.FLAG_NORESIZE) != 0) {
            f.add("noresize");
        }
        return f.isEmpty() ? "-" : String.join(",", f);
    }

    private static String time(long epochMillis) {
        return epochMillis == 0 ? "-" : TIME.format(Instant.ofEpochMilli(epochMillis));
    }

    private static String dash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(Math.max(0, width - s.length()));
    }

    /** Left-aligned columns, two spaces apart; the last column is not padded. */
    static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        void row(String... cells) {
            rows.add(cells);
        }

        @Override
        public String toString() {
            int n = rows.get(0).length;
            int[] w = new int[n];
            for (String[] r : rows) {
                for (int i = 0; i < n; i++) {
                    w[i] = Math.max(w[i], String.valueOf(r[i]).length());
                }
            }
            StringBuilder sb = new StringBuilder();
            for (String[] r : rows) {
                for (int i = 0; i < n; i++) {
                    String cell = String.valueOf(r[i]);
                    sb.append(i == n - 1 ? cell : pad(cell, w[i]) + "  ");
                }
                sb.append('\n');
            }
            return sb.substring(0, sb.length() - 1);
        }
    }
}
