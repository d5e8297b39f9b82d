package vfio.backend.ioctl.internal.host;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PciAddressTest {
    @Test
    void parsesTheFullAndTheShortForm() {
        assertThat(PciAddress.parse("pci:0000:00:03.0")).contains(new PciAddress(0, 0, 3, 0));
        assertThat(PciAddress.parse("pci:00:1f.7")).contains(new PciAddress(0, 0, 0x1f, 7));
        assertThat(PciAddress.parse("PCI:00AB:FF:1F.3").orElseThrow().bdf()).isEqualTo("00ab:ff:1f.3");
    }

    @Test
    void rejectsOtherSchemesAndMalformedAddresses() {
        assertThat(PciAddress.parse("vfio-user:/tmp/x.sock")).isEmpty();
        assertThat(PciAddress.parse("apple:pci:00:03.0")).isEmpty();
        assertThat(PciAddress.parse("pci:00:20.0")).as("device > 0x1f").isEmpty();
        assertThat(PciAddress.parse("pci:00:03.8")).as("function > 7").isEmpty();
        assertThat(PciAddress.parse("pci:0:3.0")).isEmpty();
        assertThat(PciAddress.parse(null)).isEmpty();
        assertThat(PciAddress.hasScheme("pci:garbage")).isTrue();
    }
}
