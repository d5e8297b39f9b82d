package vfio.api.device;

import java.nio.ByteBuffer;
import java.util.function.LongConsumer;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Memory a device reaches by DMA, allocated by {@link Device#allocateDma} and mapped at {@link
 * #iova()} for the device.
 *
 * <p><b>Ownership:</b> the driver that allocated it; {@link #close()} unmaps it from the device and
 * frees it. After close, {@link #memory()} views must not be used (they then refer to freed memory
 * only in the sense that the core has replaced it with inert memory: no crash, no device effect).
 *
 * <p><b>Rebinds:</b> the core maps the buffer again on every new backend. A backend that chooses
 * IOVAs itself (the Apple platform does) may give a different one: {@link #iova()} always returns
 * the current one and {@link #onIovaChange} listeners are told.
 *
 * <p><b>Threading:</b> any thread.
 */
@ProviderType
public interface DmaBuffer extends AutoCloseable {
    /** @return the size in bytes (a multiple of the page size) */
    long size();

    /**
     * @return the IO virtual address the device uses for byte 0 of this buffer
     * @throws DeviceUnavailableException if the buffer is currently unmapped (device unbound)
     */
    long iova();

    /**
     * @return a new little-endian view of the whole buffer (position 0, limit {@link #size()}); the
     *         view shares the memory with the device
     */
    ByteBuffer memory();

    /**
     * Registers a listener called with the new IOVA whenever a rebind changes it. Called on the
     * thread that restores the device, before waiting accessors resume.
     */
    void onIovaChange(LongConsumer listener);

    /** Unmaps the buffer from the device and frees it. Idempotent. */
    @Override
    void close();
}
