package vfio.user.server.internal;

import java.util.List;
import java.util.Optional;
import vfio.user.server.Bar;
import vfio.user.server.MigrationHandler;

/**
 * What {@link vfio.user.server.PciDevice.Builder} collected, validated: the input of {@link
 * DeviceModel}.
 *
 * @param bars         six entries, empty where no BAR starts (and at the upper half of a 64-bit BAR)
 * @param msiVectors   0 if the device has no MSI capability
 * @param capabilities config space capabilities in list order
 */
public record Definition(int vendorId, int deviceId, int subsystemVendorId, int subsystemId, int classCode,
        int revision, List<Optional<Bar>> bars, boolean intx, int msiVectors, Optional<Msix> msix,
        List<Capability> capabilities, Runnable reset, Optional<MigrationHandler> migration) {
    public static final int CAP_MSI = 0x05;
    public static final int CAP_VENDOR = 0x09;
    public static final int CAP_MSIX = 0x11;

    /**
     * One config space capability.
     *
     * @param id   {@link #CAP_MSI}, {@link #CAP_MSIX} or {@link #CAP_VENDOR}
     * @param data the body of a vendor capability, else null
     */
    public record Capability(int id, byte[] data) {
    }

    /** The MSI-X capability's parameters. */
    public record Msix(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
        public Msix {
            if (vectors < 1 || vectors > 2048) {
                throw new IllegalArgumentException("MSI-X vector count " + vectors + " outside [1, 2048]");
            }
            if (tableOffset < 0 || pbaOffset < 0 || tableOffset % 8 != 0 || pbaOffset % 8 != 0
                    || tableOffset > 0xffffffffL || pbaOffset > 0xffffffffL) {
                throw new IllegalArgumentException("MSI-X table offset 0x" + Long.toHexString(tableOffset)
                        + " and PBA offset 0x" + Long.toHexString(pbaOffset) + " must be 8-byte aligned 32-bit offsets");
            }
        }

        /** @throws IllegalStateException if the table or PBA do not fit in a defined memory BAR */
        public void check(Bar[] bars) {
            fits(bars, tableBar, tableOffset, 16L * vectors, "MSI-X table");
            fits(bars, pbaBar, pbaOffset, 8L * ((vectors + 63) / 64), "MSI-X pending bit array");
        }

        private static void fits(Bar[] bars, int index, long offset, long length, String what) {
            if (index < 0 || index > 5 || bars[index] == null || bars[index].type() == Bar.Type.IO) {
                throw new IllegalStateException(what + " is in BAR " + index + ", which is not a defined memory BAR");
            }
            if (offset + length > bars[index].size()) {
                throw new IllegalStateException(what + " at 0x" + Long.toHexString(offset) + "+" + length
                        + " does not fit in BAR " + index + " of " + bars[index].size() + " bytes");
            }
        }
    }
}
