package vfio.posix;

import com.sun.jna.LastErrorException;
import java.nio.ByteBuffer;

/**
 * A memory mapping made with mmap(2). Not thread-safe for {@link #revoke()}/{@link #unmap()}
 * against each other; reading {@link #address()} and views is safe from any thread.
 */
public final class MappedMemory {
    static final int PROT_READ = 1;
    static final int PROT_WRITE = 2;
    static final int MAP_SHARED = 1;
    static final int MAP_PRIVATE = 2;
    static final int MAP_FIXED = 0x10;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_NORESERVE = 0x4000;
    private static final long PAGE_SIZE = LibC.sysconf(30 /* _SC_PAGESIZE */);

    private final long address;
    private final long size;
    private volatile boolean mapped = true;

    private MappedMemory(long address, long size) {
        this.address = address;
        this.size = size;
    }

    /** @return the system page size in bytes */
    public static long pageSize() {
        return PAGE_SIZE;
    }

    /** @return {@code size} rounded up to a multiple of the page size */
    public static long roundUpToPage(long size) {
        return (size + PAGE_SIZE - 1) & -PAGE_SIZE;
    }

    /**
     * Maps {@code size} bytes of {@code fd} at {@code offset}, shared (stores reach the file or device).
     *
     * @param writable whether to map it writable too (always readable)
     * @throws ErrnoException if mmap fails
     */
    public static MappedMemory map(Fd fd, long offset, long size, boolean writable) throws ErrnoException {
        checkSize(size);
        try {
            long a = LibC.mmap(0, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd.value(), offset);
            return new MappedMemory(a, size);
        } catch (LastErrorException e) {
            throw Native.error("mmap(" + fd.what() + ")", e,
                    size + " bytes at offset 0x" + Long.toHexString(offset));
        }
    }

    /** Maps {@code size} bytes of private, zeroed, anonymous memory. */
    public static MappedMemory anonymous(long size) throws ErrnoException {
        checkSize(size);
        try {
            long a = LibC.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            return new MappedMemory(a, size);
        } catch (LastErrorException e) {
            throw Native.error("mmap(anonymous)", e, size + " bytes");
        }
    }

    /**
     * Adopts a mapping made elsewhere (by a backend), so the caller can revoke and unmap it.
     *
     * @param address page-aligned start
     * @param size    size in bytes
     */
    public static MappedMemory adopt(long address, long size) {
        checkSize(size);
        if (address == 0 || (address & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("mapping address 0x" + Long.toHexString(address) + " is not page aligned");
        }
        return new MappedMemory(address, size);
    }

    private static void checkSize(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("mapping size must be positive, got " + size);
        }
    }

    /** @return the address of the first byte */
    public long address() {
        return address;
    }

    /** @return the size in bytes */
    public long size() {
        return size;
    }

    /** @return a new little-endian direct view of the whole mapping */
    public ByteBuffer view() {
        return Native.view(address, size);
    }

    /**
     * Atomically replaces the mapped pages with private anonymous memory (mmap with MAP_FIXED over the
     * same range). Afterwards nothing reaches the old file or device through these addresses, yet a
     * thread that still touches them reads zeros instead of faulting. {@link #unmap()} releases the
     * replacement.
     */
    public void revoke() throws ErrnoException {
        try {
            LibC.mmap(address, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        } catch (LastErrorException e) {
            throw Native.error("mmap(MAP_FIXED revoke)", e, "0x" + Long.toHexString(address) + "+" + size);
        }
    }

    /** munmap(2). Idempotent. */
    public void unmap() throws ErrnoException {
        if (!mapped) {
            return;
        }
        mapped = false;
        try {
            LibC.munmap(address, size);
        } catch (LastErrorException e) {
            throw Native.error("munmap", e, "0x" + Long.toHexString(address) + "+" + size);
        }
    }

    /** @return whether {@link #unmap()} has not been called */
    public boolean isMapped() {
        return mapped;
    }

    @Override
    public String toString() {
        return "MappedMemory[0x" + Long.toHexString(address) + "+" + size + "]";
    }
}
