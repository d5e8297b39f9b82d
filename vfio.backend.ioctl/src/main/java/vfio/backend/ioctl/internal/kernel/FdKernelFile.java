package vfio.backend.ioctl.internal.kernel;

import com.sun.jna.Memory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;

/** A {@link KernelFile} on a real descriptor. */
final class FdKernelFile implements KernelFile {
    private final Fd fd;

    private FdKernelFile(Fd fd) {
        this.fd = fd;
    }

    static KernelFile open(Path path) throws ErrnoException {
        return new FdKernelFile(Fd.open(path.toString(), Fd.O_RDWR));
    }

    @Override
    public String what() {
        return fd.what();
    }

    @Override
    public int descriptor() {
        return fd.value();
    }

    @Override
    public int ioctl(String name, long request, Memory arg) throws ErrnoException {
        return fd.ioctl(name, request, arg);
    }

    @Override
    public int ioctl(String name, long request, long arg) throws ErrnoException {
        return fd.ioctl(name, request, arg);
    }

    @Override
    public int pread(ByteBuffer dst, long offset) throws ErrnoException {
        return fd.pread(dst, offset);
    }

    @Override
    public int pwrite(ByteBuffer src, long offset) throws ErrnoException {
        return fd.pwrite(src, offset);
    }

    @Override
    public MappedMemory map(long offset, long size, boolean writable) throws ErrnoException {
        return MappedMemory.map(fd, offset, size, writable);
    }

    @Override
    public KernelFile adopt(int descriptor, String what) {
        return new FdKernelFile(Fd.adopt(descriptor, what));
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return fd.toString();
    }
}
