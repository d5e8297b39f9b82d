package vfio.backend.ioctl.internal.kernel;

import java.nio.file.Path;
import vfio.posix.ErrnoException;

/** Opens kernel files; the seam unit tests replace. Thread-safe. */
@FunctionalInterface
public interface KernelFiles {
    /**
     * Opens {@code path} read-write, close-on-exec.
     *
     * @return the open file, owned by the caller
     */
    KernelFile open(Path path) throws ErrnoException;

    /** The real kernel. */
    KernelFiles SYSTEM = FdKernelFile::open;
}
