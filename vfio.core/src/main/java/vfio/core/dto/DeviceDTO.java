package vfio.core.dto;

import org.osgi.dto.DTO;

/** A device as configured and as it is at the moment of the snapshot. */
public class DeviceDTO extends DTO {
    /** The configured name ({@code vfio.device.name}). */
    public String name;
    /** The configured address, e.g. {@code pci:0000:00:02.0}. */
    public String address;
    /** {@code BOUND}, {@code UNBOUND} or {@code FAILED}. */
    public String state;
    /** Why the device entered its state, in a sentence. */
    public String reason;
    /** When the device entered its state, in milliseconds since the epoch; 0 if unknown. */
    public long since;
    /** The id of the backend serving the device; null unless bound. */
    public String backend;
    /** {@code greedy} or {@code sticky}; null if unknown (a device service the core did not register). */
    public String rebindPolicy;
    /** The LDAP filter on backend factory services; null if unknown. */
    public String backendTarget;
    /** How long an access waits for a backend, in milliseconds; 0 if unknown. */
    public long accessTimeoutMs;
    /** {@code VFIO_DEVICE_FLAGS_*} of the current or last backend; 0 if never bound. */
    public int flags;
    /** Number of region indexes; 0 if never bound. */
    public int numRegions;
    /** Number of IRQ indexes; 0 if never bound. */
    public int numIrqs;
}
