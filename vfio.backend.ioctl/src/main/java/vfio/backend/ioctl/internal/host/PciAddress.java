package vfio.backend.ioctl.internal.host;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PCI function address (domain, bus, device, function), as sysfs names it.
 *
 * @param domain   PCI domain (segment), 0..0xffff
 * @param bus      bus, 0..0xff
 * @param device   device, 0..0x1f
 * @param function function, 0..7
 */
public record PciAddress(int domain, int bus, int device, int function) {
    /** The scheme prefix of the device addresses this backend serves. */
    public static final String SCHEME = "pci:";

    private static final Pattern FORM =
            Pattern.compile("(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\\.([0-7])");

    /**
     * @throws IllegalArgumentException if a part is out of range
     */
    public PciAddress {
        if (domain < 0 || domain > 0xffff || bus < 0 || bus > 0xff || device < 0 || device > 0x1f
                || function < 0 || function > 7) {
            throw new IllegalArgumentException("PCI address out of range: domain=" + domain + " bus=" + bus
                    + " device=" + device + " function=" + function);
        }
    }

    /**
     * Parses {@code pci:DDDD:BB:DD.F} or {@code pci:BB:DD.F} (domain 0000), hexadecimal, either case.
     *
     * @return the address, or empty if {@code address} is not of that form (another backend's scheme,
     *         or a malformed PCI address)
     */
    public static Optional<PciAddress> parse(String address) {
        if (address == null || !address.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
            return Optional.empty();
        }
        Matcher m = FORM.matcher(address.substring(SCHEME.length()).trim());
        if (!m.matches()) {
            return Optional.empty();
        }
        int device = Integer.parseInt(m.group(3), 16);
        if (device > 0x1f) {
            return Optional.empty();
        }
        return Optional.of(new PciAddress(m.group(1) == null ? 0 : Integer.parseInt(m.group(1), 16),
                Integer.parseInt(m.group(2), 16), device, Integer.parseInt(m.group(4))));
    }

    /** @return whether the address uses this backend's scheme (even if malformed) */
    public static boolean hasScheme(String address) {
        return address != null && address.regionMatches(true, 0, SCHEME, 0, SCHEME.length());
    }

    /** @return the sysfs name, e.g. {@code 0000:00:03.0} */
    public String bdf() {
        return String.format(Locale.ROOT, "%04x:%02x:%02x.%x", domain, bus, device, function);
    }

    @Override
    public String toString() {
        return SCHEME + bdf();
    }
}
