package vfio.core.shell;

import java.util.Locale;

/** Parses the numbers people type at the shell: decimal or {@code 0x} hexadecimal. */
public final class Numbers {
    private Numbers() {
    }

    /**
     * @param what  what the number is, for the message ("offset")
     * @param text  decimal ({@code 4096}) or hexadecimal ({@code 0x1000}); underscores are ignored
     * @return the value; hexadecimal may use all 64 bits ({@code 0xffffffffffffffff} is -1)
     * @throws IllegalArgumentException naming {@code what} and the accepted forms
     */
    public static long parse(String what, String text) {
        String t = text == null ? "" : text.trim().replace("_", "").toLowerCase(Locale.ROOT);
        try {
            if (t.startsWith("0x")) {
                return Long.parseUnsignedLong(t.substring(2), 16);
            }
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " '" + text + "' is not a number: use decimal (4096) or hex (0x1000)");
        }
    }

    /**
     * @return {@code text} as an access width
     * @throws IllegalArgumentException unless it is 1, 2, 4 or 8
     */
    public static int width(String text) {
        long w = parse("width", text);
        if (w != 1 && w != 2 && w != 4 && w != 8) {
            throw new IllegalArgumentException("width " + text + " is not 1, 2, 4 or 8 bytes");
        }
        return (int) w;
    }

    /**
     * @return {@code value} if it fits in {@code width} bytes (unsigned, or negative down to the
     *         width's signed minimum)
     * @throws IllegalArgumentException if it does not
     */
    public static long fit(long value, int width) {
        if (width < 8) {
            long max = (1L << (8 * width)) - 1;
            long min = -(1L << (8 * width - 1));
            if (value > max || value < min) {
                throw new IllegalArgumentException("value 0x" + Long.toHexString(value) + " does not fit in " + width
                        + (width == 1 ? " byte" : " bytes"));
            }
        }
        return value;
    }

    /** @return {@code value} as {@code 0x} hex zero-padded to {@code width} bytes */
    public static String hex(long value, int width) {
        String h = Long.toHexString(value);
        int digits = width * 2;
        return "0x" + "0".repeat(Math.max(0, digits - h.length())) + h;
    }

    /** @return a size as hex bytes and, from 1 KiB up, a rounded binary unit ({@code 0x10000 (64 KiB)}) */
    public static String size(long bytes) {
        String hex = "0x" + Long.toHexString(bytes);
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        if (u < 0) {
            return hex;
        }
        String n = v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v);
        return hex + " (" + n + " " + units[u] + ")";
    }
}
