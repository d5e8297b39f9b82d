package vfio.api.device;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A configured device, as a driver sees it. Registered by the core as an OSGi service for every
 * device configuration, with the service properties {@link #PROP_NAME}, {@link #PROP_ADDRESS},
 * {@link #PROP_STATE} and {@link #PROP_BACKEND}; the service object stays the same while backends
 * come and go.
 *
 * <p><b>Threading:</b> every method may be called from any thread, concurrently. Register accesses
 * never wait for each other; they wait only while the device is unbound (up to the access timeout).
 *
 * <p><b>Ownership:</b> the core owns the device, its regions and IRQ signals. A driver owns what it
 * allocates ({@link DmaBuffer}s, IRQ enables) and releases it with {@link DmaBuffer#close()} and
 * {@link Irq#disable()}; the core releases whatever a driver bundle left behind when the device
 * configuration is deleted.
 */
@ProviderType
public interface Device {
    /** Service property: the device name (String), unique among devices. */
    String PROP_NAME = "vfio.device.name";
    /** Service property: the device address (String), e.g. {@code pci:0000:00:02.0}. */
    String PROP_ADDRESS = "vfio.device.address";
    /** Service property: the {@link DeviceState} name (String). */
    String PROP_STATE = "vfio.device.state";
    /** Service property: the id of the backend serving the device (String); absent when unbound. */
    String PROP_BACKEND = "vfio.device.backend";

    /** @return the configured name */
    String name();

    /**
     * @return the configured address: {@code pci:DDDD:BB:DD.F}, {@code vfio-user:/path/to.sock},
     *         {@code apple:pci:BB:DD.F}, or whatever a third-party backend understands
     */
    String address();

    /** @return the current state */
    DeviceState state();

    /** @return a sentence on why the device entered its current state (e.g. which backend left) */
    String stateReason();

    /** @return the id of the backend serving the device, or empty when it is unbound or failed */
    Optional<String> backendId();

    /**
     * How many times the device has been bound: it changes on every rebind, before accesses resume.
     *
     * <p>A rebind may reset the device: closing a Linux VFIO device resets the function, and a
     * vfio-user server resets its device when the client disconnects. Accesses after a rebind go to
     * the device in whatever state the new binding left it. A driver that keeps state in the device
     * across several accesses (an operation started by one write and finished by a later read)
     * compares the generation before and after, and sets the device up again when it changed.
     *
     * @return the bind count, 0 before the first bind
     */
    long generation();

    /**
     * Waits until the device is bound.
     *
     * @param timeout how long to wait at most
     * @return whether the device is bound
     * @throws InterruptedException if interrupted while waiting
     */
    boolean awaitBound(Duration timeout) throws InterruptedException;

    /**
     * @return the device info of the current (or, when unbound, the last) backend
     * @throws DeviceUnavailableException if the device has never been bound
     */
    DeviceInfo info();

    /**
     * @return every region of the device, indexed by region index
     * @throws DeviceUnavailableException if the device has never been bound
     */
    List<Region> regions();

    /**
     * @param index a region index ({@link Pci#REGION_CONFIG} for PCI configuration space)
     * @return the region
     * @throws OutOfRangeException        if the device has no such region
     * @throws DeviceUnavailableException if the device has never been bound
     */
    Region region(int index);

    /**
     * @param name {@code bar0}..{@code bar5}, {@code rom}, {@code config}, {@code vga}, or a number
     * @return the region
     * @throws IllegalArgumentException   if the name is not a region name
     * @throws OutOfRangeException        if the device has no such region
     * @throws DeviceUnavailableException if the device has never been bound
     */
    Region region(String name);

    /**
     * @param index an IRQ index ({@link Pci#IRQ_MSI}, ...)
     * @return the IRQ index
     * @throws OutOfRangeException        if the device has no such IRQ index
     * @throws DeviceUnavailableException if the device has never been bound
     */
    Irq irq(int index);

    /**
     * Allocates memory the device can reach by DMA and maps it for the device. The mapping is
     * re-established after every rebind; its IOVA may then change (see {@link DmaBuffer#iova()}).
     *
     * @param size    size in bytes, at least 1; rounded up to the page size
     * @param maxIova the highest IOVA the device can address (e.g. {@code (1L << 28) - 1} for a
     *                28-bit DMA mask); {@code -1} for no limit
     * @return the mapped buffer, owned by the caller
     * @throws IllegalArgumentException   if {@code size} is not positive
     * @throws NotSupportedException      if the backend cannot map DMA
     * @throws DeviceUnavailableException if the device is not bound within the access timeout
     * @throws BackendException           if the backend refuses the mapping, or chose an IOVA above
     *                                    {@code maxIova}
     */
    DmaBuffer allocateDma(long size, long maxIova);

    /**
     * Resets the device. Regions stay mapped; enabled IRQs stay enabled as far as the backend keeps
     * them (a PCI function reset clears the device's own interrupt configuration).
     *
     * @throws NotSupportedException      if the device cannot be reset
     * @throws DeviceUnavailableException if the device is not bound within the access timeout
     * @throws BackendException           if the backend's reset failed
     */
    void reset();
}
