package vfio.backend.apple.sim;

import java.util.List;
import java.util.function.Supplier;
import vfio.backend.apple.dext.Bdf;

/**
 * What a simulated PCI function looks like.
 *
 * @param bdf          the host function the simulated dext instance serves
 * @param vendorId     PCI vendor id
 * @param deviceId     PCI device id
 * @param classCode    24-bit class code (base class, subclass, programming interface)
 * @param reportIds    whether GetIdentity reports vendor, device and class (newer dext versions)
 * @param bars         exactly six BARs; a {@link SimulatedBar.Kind#MEMORY64} BAR must be followed by
 *                     {@link SimulatedBar#none()}
 * @param msiVectors   vectors of the MSI capability (0: none; else 1, 2, 4, ..., 32)
 * @param msixVectors  entries of the MSI-X table (0: no MSI-X capability; else 1-2048)
 * @param model        makes the device model behind the BARs, or null for plain memory
 */
public record FunctionSpec(Bdf bdf, int vendorId, int deviceId, int classCode, boolean reportIds,
        List<SimulatedBar> bars, int msiVectors, int msixVectors, Supplier<DeviceModel> model) {
    /**
     * @throws IllegalArgumentException if the BAR layout or vector counts are impossible
     */
    public FunctionSpec {
        bars = List.copyOf(bars);
        if (bars.size() != 6) {
            throw new IllegalArgumentException("a PCI function has 6 BARs, got " + bars.size());
        }
        for (int i = 0; i < 6; i++) {
            if (bars.get(i).kind() == SimulatedBar.Kind.MEMORY64 && (i == 5 || bars.get(i + 1).present())) {
                throw new IllegalArgumentException("64-bit BAR" + i + " needs BAR" + (i + 1) + " free for its upper half");
            }
        }
        if (msiVectors < 0 || msiVectors > 32 || (msiVectors != 0 && Integer.bitCount(msiVectors) != 1)) {
            throw new IllegalArgumentException("MSI vectors must be 0 or a power of two up to 32, got " + msiVectors);
        }
        if (msixVectors < 0 || msixVectors > 2048) {
            throw new IllegalArgumentException("MSI-X table size must be 0-2048, got " + msixVectors);
        }
    }

    /**
     * An edu-like function (QEMU's {@code edu}: 1234:11e8, BAR0 1 MiB register file with the {@link
     * EduModel}) plus, to exercise every BAR rule, a prefetchable 64-bit RAM BAR2 (64 KiB, upper half
     * in BAR3) and an I/O BAR4 (256 bytes); BAR1 and BAR5 are empty. MSI with 1 vector and MSI-X with
     * {@code msixVectors} entries.
     *
     * @param bar0Mappable whether BAR0 may be mapped (then mapped accesses bypass the model)
     */
    public static FunctionSpec edu(Bdf bdf, boolean bar0Mappable, int msixVectors) {
        return new FunctionSpec(bdf, 0x1234, 0x11e8, 0x00ff00, true,
                List.of(new SimulatedBar(SimulatedBar.Kind.MEMORY32, 1 << 20, false, bar0Mappable),
                        SimulatedBar.none(),
                        SimulatedBar.memory64(64 << 10, true),
                        SimulatedBar.none(),
                        SimulatedBar.io(256),
                        SimulatedBar.none()),
                1, msixVectors, EduModel::new);
    }

    /** @return the same function at another address */
    public FunctionSpec at(Bdf other) {
        return new FunctionSpec(other, vendorId, deviceId, classCode, reportIds, bars, msiVectors, msixVectors, model);
    }
}
