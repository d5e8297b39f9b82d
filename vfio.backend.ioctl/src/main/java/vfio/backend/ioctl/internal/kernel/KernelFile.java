package vfio.backend.ioctl.internal.kernel;

import com.sun.jna.Memory;
import java.nio.ByteBuffer;
import vfio.posix.ErrnoException;
import vfio.posix.MappedMemory;

/**
 * One open VFIO or iommufd file (container, group, device, device file, {@code /dev/iommu}): the
 * calls this backend makes on it. The real implementation forwards to a {@link vfio.posix.Fd}; unit
 * tests substitute a fake that plays the kernel.
 *
 * <p>Thread-safe as the underlying system calls are. {@link #close()} must not race with other calls
 * (the owner closes only after every other call returned).
 */
public interface KernelFile extends AutoCloseable {
    /** @return what the file is (its path), for messages */
    String what();

    /** @return the raw descriptor, to pass to ioctls that take another file's descriptor */
    int descriptor();

    /**
     * ioctl with a pointer argument.
     *
     * @param name the request's name for messages
     * @return the ioctl's non-negative result
     */
    int ioctl(String name, long request, Memory arg) throws ErrnoException;

    /** ioctl with an integer argument. */
    int ioctl(String name, long request, long arg) throws ErrnoException;

    /** One pread(2). @return bytes read */
    int pread(ByteBuffer dst, long offset) throws ErrnoException;

    /** One pwrite(2). @return bytes written */
    int pwrite(ByteBuffer src, long offset) throws ErrnoException;

    /** mmap(2) shared, readable and (if asked) writable; the caller owns the mapping. */
    MappedMemory map(long offset, long size, boolean writable) throws ErrnoException;

    /** Wraps a descriptor an ioctl on this file returned (a device fd, a dma-buf); takes ownership. */
    KernelFile adopt(int descriptor, String what);

    /** Closes the file. Idempotent, never throws. */
    @Override
    void close();
}
