/**
 * Interrupts: the signal objects the core owns (eventfds watched by one epoll thread on Linux, a
 * plain Java queue elsewhere), the single dispatcher thread that calls drivers' handlers ({@link
 * vfio.core.irq.IrqDispatcher}), and a device's IRQ indexes with their remembered configuration
 * ({@link vfio.core.irq.DeviceIrq}). Private to the core.
 */
package vfio.core.irq;
