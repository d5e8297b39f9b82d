package vfio.backend.ioctl.internal;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.metatype.annotations.Designate;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;
import vfio.backend.ioctl.internal.host.DevicePlan;
import vfio.backend.ioctl.internal.host.HostInspector;
import vfio.backend.ioctl.internal.host.IommuChoice;
import vfio.backend.ioctl.internal.host.PciAddress;
import vfio.backend.ioctl.internal.iommu.IommuContexts;
import vfio.backend.ioctl.internal.kernel.KernelFiles;

/**
 * The Linux VFIO backend: serves {@code pci:DDDD:BB:DD.F} (or {@code pci:BB:DD.F}) devices bound to
 * vfio-pci, through the iommufd device file where the kernel offers one and the legacy
 * container/group API otherwise.
 *
 * <p>Device options ({@link OpenRequest#options()}):
 * <ul>
 * <li>{@code iommu=auto|group|iommufd}: which kernel API to use (default auto: the device file if
 * present).</li>
 * <li>{@code noiommu=unsafe}: required to open a device in a no-IOMMU group ({@code
 * /dev/vfio/noiommu-N}), where the device can read and write all physical memory.</li>
 * </ul>
 *
 * <p>Each instance keeps its own groups, containers and iommufd; devices opened through one instance
 * share them (see {@link IommuContexts}). Thread-safe.
 */
@Component(service = BackendFactory.class, property = BackendFactory.PROP_ID + "=" + IoctlBackendFactory.ID,
        configurationPid = IoctlBackendFactory.ID, configurationPolicy = ConfigurationPolicy.OPTIONAL)
@Designate(ocd = IoctlBackendConfiguration.class)
public final class IoctlBackendFactory implements BackendFactory {
    /** The backend id and configuration PID. */
    public static final String ID = "vfio.backend.ioctl";
    /** Option choosing the kernel API. */
    public static final String OPTION_IOMMU = "iommu";
    /** Option opting in to no-IOMMU mode; its only accepted value is {@code unsafe}. */
    public static final String OPTION_NOIOMMU = "noiommu";

    private static final Set<String> OPTIONS = Set.of(OPTION_IOMMU, OPTION_NOIOMMU);

    private final HostInspector inspector;
    private final IommuContexts contexts;

    /** DS constructor. */
    @Activate
    public IoctlBackendFactory(IoctlBackendConfiguration config) {
        this(Path.of(config.sysfs_root()), Path.of(config.dev_root()), KernelFiles.SYSTEM);
    }

    /**
     * @param sysfs the sysfs root ({@code /sys})
     * @param dev   the device node root ({@code /dev})
     * @param files how to open kernel files
     */
    public IoctlBackendFactory(Path sysfs, Path dev, KernelFiles files) {
        this.inspector = new HostInspector(sysfs, dev);
        this.contexts = new IommuContexts(files);
    }

    /** A factory on the real {@code /sys} and {@code /dev}. */
    public static IoctlBackendFactory system() {
        return new IoctlBackendFactory(Path.of("/sys"), Path.of("/dev"), KernelFiles.SYSTEM);
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public Match match(String address) {
        if (!PciAddress.hasScheme(address)) {
            return Match.no("not a PCI address: this backend serves pci:DDDD:BB:DD.F");
        }
        PciAddress pci = PciAddress.parse(address).orElse(null);
        if (pci == null) {
            return Match.no("malformed PCI address '" + address + "': write pci:DDDD:BB:DD.F, e.g. pci:0000:00:03.0");
        }
        HostInspector.Result r = inspector.inspect(pci, IommuChoice.AUTO);
        if (r instanceof HostInspector.Result.Usable u) {
            return Match.of(Match.DEFAULT_SCORE, u.plan().describe());
        }
        return Match.no(((HostInspector.Result.Unusable) r).reason());
    }

    /**
     * {@inheritDoc}
     *
     * @throws DeviceException if an option is unknown or malformed, the address is not a usable
     *                         vfio-pci device (with what to do), or a no-IOMMU device lacks {@code
     *                         noiommu=unsafe}
     */
    @Override
    public DeviceIoOps open(OpenRequest request) {
        Map<String, String> options = request.options();
        Set<String> unknown = new TreeSet<>(options.keySet());
        unknown.removeAll(OPTIONS);
        if (!unknown.isEmpty()) {
            throw new DeviceException("device " + request.name() + ": unknown option(s) " + unknown + " for backend " + ID
                    + "; it understands iommu=auto|group|iommufd and noiommu=unsafe");
        }
        IommuChoice choice;
        try {
            choice = IommuChoice.parse(options.getOrDefault(OPTION_IOMMU, "auto"));
        } catch (IllegalArgumentException e) {
            throw new DeviceException("device " + request.name() + ": " + e.getMessage());
        }
        String noIommu = options.get(OPTION_NOIOMMU);
        if (noIommu != null && !noIommu.trim().toLowerCase(Locale.ROOT).equals("unsafe")) {
            throw new DeviceException("device " + request.name() + ": option noiommu=" + noIommu
                    + " is not understood; the only value is noiommu=unsafe");
        }
        PciAddress pci = PciAddress.parse(request.address()).orElseThrow(() -> new DeviceException(
                "device " + request.name() + ": '" + request.address() + "' is not a PCI address (pci:DDDD:BB:DD.F)"));
        HostInspector.Result r = inspector.inspect(pci, choice);
        if (r instanceof HostInspector.Result.Unusable u) {
            throw new DeviceException("device " + request.name() + ": " + u.reason());
        }
        DevicePlan plan = ((HostInspector.Result.Usable) r).plan();
        if (plan.noIommu() && noIommu == null) {
            throw new DeviceException("device " + request.name() + " (" + pci.bdf() + ") is in the no-IOMMU group "
                    + plan.groupNode() + ": without an IOMMU the device can read and write all of the machine's"
                    + " memory and DMA goes to physical addresses; to accept that, set the option noiommu=unsafe");
        }
        return IoctlDeviceOps.open(request.name(), contexts.attach(plan));
    }

    /** @return the open groups, containers and IOAS, for diagnostics */
    public String census() {
        return contexts.census();
    }
}
