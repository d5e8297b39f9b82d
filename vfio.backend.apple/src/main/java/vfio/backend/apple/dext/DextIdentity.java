package vfio.backend.apple.dext;

/**
 * What GetIdentity (selector 0) reports. Early dext versions report only bus, device and function;
 * the ids are then -1.
 *
 * @param bdf       the host PCI function the dext instance serves
 * @param vendorId  PCI vendor id, or -1 if the dext did not report it
 * @param deviceId  PCI device id, or -1
 * @param classCode 24-bit class code, or -1
 */
public record DextIdentity(Bdf bdf, int vendorId, int deviceId, int classCode) {
    /** @return whether the dext reported vendor and device ids */
    public boolean hasIds() {
        return vendorId >= 0 && deviceId >= 0;
    }

    @Override
    public String toString() {
        return hasIds() ? String.format("%s [%04x:%04x]", bdf, vendorId, deviceId) : bdf.toString();
    }
}
