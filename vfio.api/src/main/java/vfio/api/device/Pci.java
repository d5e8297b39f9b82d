package vfio.api.device;

import java.util.Locale;

/**
 * Region and IRQ index numbers of a PCI device, as {@code linux/vfio.h} assigns them, and the names
 * people use for them ({@code bar0} .. {@code bar5}, {@code rom}, {@code config}, {@code vga}).
 */
public final class Pci {
    public static final int REGION_BAR0 = 0;
    public static final int REGION_BAR5 = 5;
    public static final int REGION_ROM = 6;
    public static final int REGION_CONFIG = 7;
    public static final int REGION_VGA = 8;
    /** Number of region indexes of a PCI device. */
    public static final int NUM_REGIONS = 9;

    public static final int IRQ_INTX = 0;
    public static final int IRQ_MSI = 1;
    public static final int IRQ_MSIX = 2;
    public static final int IRQ_ERR = 3;
    public static final int IRQ_REQ = 4;
    /** Number of IRQ indexes of a PCI device. */
    public static final int NUM_IRQS = 5;

    /** Size of PCI Express configuration space in bytes. */
    public static final int CONFIG_SPACE_SIZE = 4096;

    private static final String[] IRQ_NAMES = {"intx", "msi", "msix", "err", "req"};

    private Pci() {
    }

    /**
     * @param index a region index
     * @return its PCI name ({@code bar0} .. {@code bar5}, {@code rom}, {@code config}, {@code vga}), or
     *         {@code region<index>} for indexes past the PCI ones
     */
    public static String regionName(int index) {
        if (index >= REGION_BAR0 && index <= REGION_BAR5) {
            return "bar" + index;
        }
        return switch (index) {
            case REGION_ROM -> "rom";
            case REGION_CONFIG -> "config";
            case REGION_VGA -> "vga";
            default -> "region" + index;
        };
    }

    /**
     * Parses a region name or number.
     *
     * @param name {@code bar0}..{@code bar5}, {@code rom}, {@code config}, {@code vga}, {@code regionN} or
     *             a plain non-negative number (case-insensitive)
     * @return the region index
     * @throws IllegalArgumentException naming the accepted forms, if {@code name} is none of them
     */
    public static int regionIndex(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (int i = 0; i < NUM_REGIONS; i++) {
            if (regionName(i).equals(n)) {
                return i;
            }
        }
        String digits = n.startsWith("region") ? n.substring(6) : n;
        try {
            int index = Integer.parseInt(digits);
            if (index >= 0) {
                return index;
            }
        } catch (NumberFormatException e) {
            // fall through to the error below
        }
        throw new IllegalArgumentException("unknown region '" + name
                + "': use bar0..bar5, rom, config, vga, regionN or a region number");
    }

    /**
     * @param index an IRQ index
     * @return its name ({@code intx}, {@code msi}, {@code msix}, {@code err}, {@code req}) or {@code
     *         irq<index>}
     */
    public static String irqName(int index) {
        return index >= 0 && index < IRQ_NAMES.length ? IRQ_NAMES[index] : "irq" + index;
    }

    /**
     * Parses an IRQ index name or number.
     *
     * @param name {@code intx}, {@code msi}, {@code msix}, {@code err}, {@code req} or a number
     * @return the IRQ index
     * @throws IllegalArgumentException naming the accepted forms
     */
    public static int irqIndex(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (int i = 0; i < IRQ_NAMES.length; i++) {
            if (IRQ_NAMES[i].equals(n)) {
                return i;
            }
        }
        try {
            int index = Integer.parseInt(n.startsWith("irq") ? n.substring(3) : n);
            if (index >= 0) {
                return index;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new IllegalArgumentException(
                "unknown IRQ index '" + name + "': use intx, msi, msix, err, req or a number");
    }
}
