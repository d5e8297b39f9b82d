package vfio.backend.apple.dext;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PCI function on the host: bus, device, function (the dext reports these from GetIdentity).
 *
 * @param bus      0..255
 * @param device   0..31
 * @param function 0..7
 */
public record Bdf(int bus, int device, int function) {
    private static final Pattern FORM = Pattern.compile("([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\\.([0-7])");

    /**
     * @throws IllegalArgumentException if a part is out of range
     */
    public Bdf {
        if (bus < 0 || bus > 0xff || device < 0 || device > 0x1f || function < 0 || function > 7) {
            throw new IllegalArgumentException(
                    "bad PCI function bus=" + bus + " device=" + device + " function=" + function);
        }
    }

    /**
     * Parses {@code BB:DD.F} (hexadecimal bus and device, function 0-7).
     *
     * @throws IllegalArgumentException naming the expected form
     */
    public static Bdf parse(String text) {
        Matcher m = FORM.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a PCI function: expected BB:DD.F, e.g. 00:02.0");
        }
        int device = Integer.parseInt(m.group(2), 16);
        if (device > 0x1f) {
            throw new IllegalArgumentException("'" + text + "': PCI device number must be 00-1f");
        }
        return new Bdf(Integer.parseInt(m.group(1), 16), device, Integer.parseInt(m.group(3)));
    }

    @Override
    public String toString() {
        return String.format("%02x:%02x.%d", bus, device, function);
    }
}
