package vfio.api.device;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Receives a device's interrupts. Implemented by drivers; called on the core's dispatcher thread,
 * never concurrently with itself. Must return quickly. An exception it throws is logged and does not
 * disable the interrupt.
 */
@ConsumerType
@FunctionalInterface
public interface IrqHandler {
    /**
     * @param irq    the IRQ index that fired
     * @param vector the vector within that index
     */
    void interrupt(Irq irq, int vector);
}
