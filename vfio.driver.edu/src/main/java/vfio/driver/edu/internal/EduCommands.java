package vfio.driver.edu.internal;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.felix.service.command.Descriptor;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import vfio.api.device.Device;
import vfio.api.device.DeviceException;
import vfio.api.device.Pci;
import vfio.driver.edu.EduDriver;

/**
 * Gogo commands {@code edu:*} that drive an edu device through {@link EduDriver}. Each command opens
 * the driver, does its work and closes it again, so the commands never hold the device's
 * interrupt between invocations.
 */
@Component(service = EduCommands.class, property = {"osgi.command.scope=edu",
        "osgi.command.function=id", "osgi.command.function=liveness", "osgi.command.function=factorial",
        "osgi.command.function=dma", "osgi.command.function=raise"})
public final class EduCommands {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private final List<Device> devices = new CopyOnWriteArrayList<>();

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addDevice(Device device) {
        devices.add(device);
    }

    void removeDevice(Device device) {
        devices.remove(device);
    }

    @Descriptor("read the identification register (0x010000ed) of the edu device")
    public String id() {
        return id(null);
    }

    @Descriptor("read the identification register of the named edu device")
    public String id(@Descriptor("device name") String name) {
        try (EduDriver edu = open(name)) {
            return String.format("0x%08x", edu.id());
        }
    }

    @Descriptor("write a value to the liveness register and show what the device returns (its inverse)")
    public String liveness(@Descriptor("value") int value) {
        try (EduDriver edu = open(null)) {
            return String.format("wrote 0x%08x, read 0x%08x", value, edu.liveness(value));
        }
    }

    @Descriptor("compute n! on the edu device and wait for its completion interrupt")
    public String factorial(@Descriptor("n") int n) throws InterruptedException {
        return factorial(n, null);
    }

    @Descriptor("compute n! on the named edu device")
    public String factorial(@Descriptor("n") int n, @Descriptor("device name") String name) throws InterruptedException {
        try (EduDriver edu = open(name)) {
            int result = edu.factorial(n);
            return n + "! = " + Integer.toUnsignedString(result) + " (completion interrupt received, "
                    + edu.interruptCount() + " interrupt(s) on this enable)";
        }
    }

    @Descriptor("copy a message to the device's DMA buffer and back through its DMA engine")
    public String dma() throws InterruptedException {
        return dma("hello from the JVM through DMA", null);
    }

    @Descriptor("copy the given text through the device's DMA engine and back")
    public String dma(@Descriptor("text") String text, @Descriptor("device name") String name) throws InterruptedException {
        byte[] data = text.getBytes(StandardCharsets.UTF_8);
        try (EduDriver edu = open(name)) {
            byte[] back = edu.dmaRoundTrip(data);
            boolean same = java.util.Arrays.equals(data, back);
            return (same ? "DMA round trip OK: " : "DMA round trip MISMATCH: ") + new String(back, StandardCharsets.UTF_8);
        }
    }

    @Descriptor("raise an interrupt from software (bits in the interrupt status) and wait for the handler")
    public String raise(@Descriptor("status bits, e.g. 0x10") int bits) throws InterruptedException {
        try (EduDriver edu = open(null)) {
            return String.format("handler saw interrupt status 0x%x", edu.raise(bits));
        }
    }

    private EduDriver open(String name) {
        for (Device d : devices) {
            if (name != null ? d.name().equals(name) : isEdu(d)) {
                return EduDriver.open(d, TIMEOUT);
            }
        }
        throw new DeviceException(name != null ? "no device named '" + name + "' (see vfio:devices)"
                : "no bound edu device (1234:11e8); attach one with vfio:attach, see vfio:devices");
    }

    private static boolean isEdu(Device d) {
        try {
            return d.region(Pci.REGION_CONFIG).read32(0) == EduDriver.PCI_ID;
        } catch (DeviceException e) {
            return false;
        }
    }
}
