package vfio.backend.apple.dext;

/**
 * A BAR mapped into this process by {@link DextConnection#mapBar} ({@code IOConnectMapMemory64}).
 * Owned by the connection that made it; released with {@link DextConnection#unmapBar} or when the
 * connection closes.
 *
 * @param bar     the BAR index 0-5
 * @param address the process virtual address of the BAR's first byte (page aligned)
 * @param size    the mapped size in bytes as the system reported it (may exceed the BAR size by
 *                page rounding)
 * @param writeCombining whether it was mapped write-combining ({@code kIOMapWriteCombineCache})
 */
public record BarMapping(int bar, long address, long size, boolean writeCombining) {
}
