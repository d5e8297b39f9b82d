package vfio.core.dto;

import org.osgi.dto.DTO;

/** An IRQ index of a device and how often its vectors fired. */
public class IrqDTO extends DTO {
    /** The IRQ index. */
    public int index;
    /** {@code intx}, {@code msi}, {@code msix}, {@code err}, {@code req} or {@code irqN}. */
    public String name;
    /** {@code VFIO_IRQ_INFO_*} bits. */
    public int flags;
    /** Number of vectors the device has at this index. */
    public int vectors;
    /** Number of vectors a driver enabled (0: disabled). */
    public int enabled;
    /** Handler calls per vector since the first enable, indexed by vector. */
    public long[] counts;
}
