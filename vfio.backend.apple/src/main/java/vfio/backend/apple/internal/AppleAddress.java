package vfio.backend.apple.internal;

import vfio.backend.apple.dext.Bdf;

/** Device addresses of this backend: {@code apple:pci:BB:DD.F}. */
final class AppleAddress {
    /** The address scheme prefix. */
    static final String PREFIX = "apple:pci:";

    private AppleAddress() {
    }

    /** @return whether {@code address} uses this backend's scheme (it may still be malformed) */
    static boolean isApple(String address) {
        return address.startsWith(PREFIX);
    }

    /**
     * @return the host function of an {@code apple:pci:BB:DD.F} address
     * @throws IllegalArgumentException naming the expected form
     */
    static Bdf parse(String address) {
        if (!isApple(address)) {
            throw new IllegalArgumentException("'" + address + "' is not an Apple dext address: expected "
                    + PREFIX + "BB:DD.F, e.g. " + PREFIX + "00:02.0");
        }
        try {
            return Bdf.parse(address.substring(PREFIX.length()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + address + "': " + e.getMessage()
                    + " (the form is " + PREFIX + "BB:DD.F with hexadecimal bus and device)", e);
        }
    }
}
