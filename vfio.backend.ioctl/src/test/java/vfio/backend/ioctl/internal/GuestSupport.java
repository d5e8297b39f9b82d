package vfio.backend.ioctl.internal;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.BooleanSupplier;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.OpenRequest;
import vfio.api.device.Pci;

/**
 * Helpers of the tests tagged "guest", which need the real vfio-pci driver (rig/run-guest-tests.sh
 * runs them in a QEMU guest). Outside the rig (no system property vfio.rig) a missing device skips
 * the test instead of failing it, so they never fail on a host without VFIO.
 */
final class GuestSupport {
    static final int EDU_VENDOR = 0x1234;
    static final int EDU_DEVICE = 0x11e8;
    static final int E1000E_VENDOR = 0x8086;
    static final int E1000E_DEVICE = 0x10d3;
    static final int TESTDEV_VENDOR = 0x1b36;
    static final int TESTDEV_DEVICE = 0x0005;

    private GuestSupport() {
    }

    /** @return whether the tests run inside the rig's guest */
    static boolean inRig() {
        return Boolean.getBoolean("vfio.rig");
    }

    /** @return the backend option iommu= the rig asked for (auto by default) */
    static String iommuOption() {
        return System.getProperty("vfio.test.iommu", "auto");
    }

    /** @return whether the guest runs without an IOMMU (unsafe no-IOMMU mode) */
    static boolean noIommuMode() {
        return "noiommu".equals(System.getProperty("vfio.test.mode"));
    }

    /**
     * @return the address ({@code pci:DDDD:BB:DD.F}) of the first PCI function with these ids that is
     *         bound to vfio-pci; skips the test outside the rig if there is none, fails inside it
     */
    static String address(int vendor, int device) {
        Path devices = Path.of("/sys/bus/pci/devices");
        try (DirectoryStream<Path> all = Files.newDirectoryStream(devices)) {
            for (Path d : all) {
                if (hex(d.resolve("vendor")) == vendor && hex(d.resolve("device")) == device
                        && Files.isSymbolicLink(d.resolve("driver"))
                        && Files.readSymbolicLink(d.resolve("driver")).getFileName().toString().equals("vfio-pci")) {
                    return "pci:" + d.getFileName();
                }
            }
        } catch (IOException e) {
            // no sysfs PCI tree: handled below
        }
        String what = String.format("no PCI device %04x:%04x bound to vfio-pci", vendor, device);
        if (inRig()) {
            fail(what + " in the guest: check rig/init.sh and the QEMU devices of rig/boot.sh");
        }
        assumeTrue(false, what + " (this test runs in the QEMU guest: rig/run-guest-tests.sh)");
        return null;
    }

    private static int hex(Path p) throws IOException {
        return Integer.decode(Files.readString(p).trim());
    }

    /** Opens a device with the rig's options on a fresh factory (its own containers). */
    static DeviceIoOps open(IoctlBackendFactory factory, String name, String address) {
        Map<String, String> options = noIommuMode()
                ? Map.of(IoctlBackendFactory.OPTION_IOMMU, iommuOption(), IoctlBackendFactory.OPTION_NOIOMMU, "unsafe")
                : Map.of(IoctlBackendFactory.OPTION_IOMMU, iommuOption());
        return factory.open(new OpenRequest(name, address, Duration.ofSeconds(5), options));
    }

    static int read32(DeviceIoOps ops, int region, long offset) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(region, offset, b);
        return b.getInt(0);
    }

    static int read16(DeviceIoOps ops, int region, long offset) {
        ByteBuffer b = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(region, offset, b);
        return Short.toUnsignedInt(b.getShort(0));
    }

    static void write32(DeviceIoOps ops, int region, long offset, int value) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, value);
        ops.regionWrite(region, offset, b, false);
    }

    static void write16(DeviceIoOps ops, int region, long offset, int value) {
        ByteBuffer b = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) value);
        ops.regionWrite(region, offset, b, false);
    }

    /** Sets Bus Master Enable in the PCI command register: without it no MSI and no DMA arrive. */
    static void enableBusMaster(DeviceIoOps ops) {
        int command = read16(ops, Pci.REGION_CONFIG, 0x04);
        write16(ops, Pci.REGION_CONFIG, 0x04, command | 0x4);
    }

    /** Polls {@code condition} every millisecond until it holds or {@code timeout} passes. */
    static boolean await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }
}
