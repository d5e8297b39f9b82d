package vfio.posix;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;

/** Helpers shared by the wrappers: errno translation and native views of Java buffers. */
final class Native {
    private static final int SCRATCH = 64 * 1024;
    private static final ThreadLocal<Memory> SCRATCH_MEMORY = ThreadLocal.withInitial(() -> new Memory(SCRATCH));

    private Native() {
    }

    static ErrnoException error(String call, LastErrorException e) {
        return new ErrnoException(call, e.getErrorCode(), null);
    }

    static ErrnoException error(String call, LastErrorException e, String detail) {
        return new ErrnoException(call, e.getErrorCode(), detail);
    }

    /** @return the native address of a direct buffer's position */
    static long address(ByteBuffer direct) {
        return Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(direct)) + direct.position();
    }

    /** @return a native scratch area of at least {@code size} bytes, owned by the calling thread */
    static Memory scratch(long size) {
        return size <= SCRATCH ? SCRATCH_MEMORY.get() : new Memory(size);
    }

    /** @return a direct little-endian view of native memory */
    static ByteBuffer view(long address, long size) {
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("cannot view " + size + " bytes as one buffer (limit 2 GiB)");
        }
        return new Pointer(address).getByteBuffer(0, size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }
}
