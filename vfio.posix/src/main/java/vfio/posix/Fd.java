package vfio.posix;

import java.lang.ref.Reference;
import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An owned file descriptor. Closing is idempotent and never throws. The owner must not close it
 * while other threads are still using {@link #value()} (the number could be reused).
 */
public final class Fd implements AutoCloseable {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0x40;
    public static final int O_NOFOLLOW = 0x20000;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;

    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;

    private final AtomicInteger fd;
    private final String what;

    private Fd(int fd, String what) {
        this.fd = new AtomicInteger(fd);
        this.what = what;
    }

    /**
     * Takes ownership of a raw descriptor.
     *
     * @param fd   the descriptor, not negative
     * @param what what it is, for messages (e.g. the path)
     */
    public static Fd adopt(int fd, String what) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd + " (" + what + ")");
        }
        return new Fd(fd, what);
    }

    /**
     * Opens a file ({@link #O_CLOEXEC} is always added).
     *
     * @throws ErrnoException naming the path if the open fails
     */
    public static Fd open(String path, int flags) throws ErrnoException {
        return open(path, flags, 0);
    }

    /**
     * Opens or creates a file ({@link #O_CLOEXEC} is always added).
     *
     * @param mode permission bits for a file that {@link #O_CREAT} creates, e.g. {@code 0600}
     * @throws ErrnoException naming the path if the open fails
     */
    public static Fd open(String path, int flags, int mode) throws ErrnoException {
        try {
            return new Fd(LibC.open(path, flags | O_CLOEXEC, mode), path);
        } catch (LastErrorException e) {
            throw Native.error("open(" + path + ")", e);
        }
    }

    /** @return the raw descriptor; {@link IllegalStateException} if closed */
    public int value() {
        int v = fd.get();
        if (v < 0) {
            throw new IllegalStateException("file descriptor of " + what + " is closed");
        }
        return v;
    }

    /** @return whether it is still open */
    public boolean isOpen() {
        return fd.get() >= 0;
    }

    /** @return what this descriptor is, as given when it was made */
    public String what() {
        return what;
    }

    /** @return a duplicate, owned by the caller */
    public Fd dup() throws ErrnoException {
        try {
            return new Fd(LibC.fcntl(value(), 1030 /* F_DUPFD_CLOEXEC */, 0), what);
        } catch (LastErrorException e) {
            throw Native.error("dup(" + what + ")", e);
        }
    }

    /** Sets the file's size (ftruncate). */
    public void truncate(long size) throws ErrnoException {
        try {
            LibC.ftruncate(value(), size);
        } catch (LastErrorException e) {
            throw Native.error("ftruncate(" + what + ")", e, size + " bytes");
        }
    }

    /** Sets or clears O_NONBLOCK. */
    public void setNonBlocking(boolean on) throws ErrnoException {
        try {
            int flags = LibC.fcntl(value(), F_GETFL, 0);
            LibC.fcntl(value(), F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
        } catch (LastErrorException e) {
            throw Native.error("fcntl(" + what + ")", e);
        }
    }

    /** One read(2) into {@code dst}. @return bytes read, 0 at end of file */
    public int read(ByteBuffer dst) throws ErrnoException {
        return transfer(dst, -1, true);
    }

    /** One write(2) from {@code src}. @return bytes written */
    public int write(ByteBuffer src) throws ErrnoException {
        return transfer(src, -1, false);
    }

    /** One pread(2) at {@code offset}. @return bytes read */
    public int pread(ByteBuffer dst, long offset) throws ErrnoException {
        return transfer(dst, offset, true);
    }

    /** One pwrite(2) at {@code offset}. @return bytes written */
    public int pwrite(ByteBuffer src, long offset) throws ErrnoException {
        return transfer(src, offset, false);
    }

    private int transfer(ByteBuffer buf, long offset, boolean in) throws ErrnoException {
        int len = buf.remaining();
        boolean direct = buf.isDirect();
        Memory scratch = direct ? null : Native.scratch(Math.max(len, 1));
        long addr = direct ? Native.address(buf) : Pointer.nativeValue(scratch);
        if (!in && !direct) {
            byte[] bytes = new byte[len]; // get() also works on read-only heap buffers, array() does not
            buf.duplicate().get(bytes);
            scratch.write(0, bytes, 0, len);
        }
        long n;
        try {
            if (in) {
                n = offset < 0 ? LibC.read(value(), addr, len) : LibC.pread(value(), addr, len, offset);
            } else {
                n = offset < 0 ? LibC.write(value(), addr, len) : LibC.pwrite(value(), addr, len, offset);
            }
        } catch (LastErrorException e) {
            String call = (offset < 0 ? (in ? "read" : "write") : (in ? "pread" : "pwrite")) + "(" + what + ")";
            throw Native.error(call, e, len + " bytes" + (offset < 0 ? "" : " at offset 0x" + Long.toHexString(offset)));
        } finally {
            // Only addresses reach the kernel: keep their owners alive until it is done with them.
            Reference.reachabilityFence(scratch);
            Reference.reachabilityFence(buf);
        }
        if (in && !direct && n > 0) {
            scratch.read(0, buf.array(), buf.arrayOffset() + buf.position(), (int) n);
        }
        buf.position(buf.position() + (int) n);
        return (int) n;
    }

    /**
     * ioctl(2) with a pointer argument.
     *
     * @param name    the request's name for messages, e.g. {@code VFIO_DEVICE_GET_INFO}
     * @param request the request number
     * @param arg     the argument memory (may be null for none)
     * @return the ioctl's non-negative result
     * @throws ErrnoException naming the request
     */
    public int ioctl(String name, long request, Pointer arg) throws ErrnoException {
        try {
            return ioctl(name, request, Pointer.nativeValue(arg));
        } finally {
            Reference.reachabilityFence(arg);
        }
    }

    /** ioctl(2) with an integer argument. */
    public int ioctl(String name, long request, long arg) throws ErrnoException {
        try {
            return LibC.ioctl(value(), request, arg);
        } catch (LastErrorException e) {
            throw Native.error("ioctl(" + name + ") on " + what, e);
        }
    }

    /** Closes the descriptor. Idempotent; errors are ignored (the descriptor is gone either way). */
    @Override
    public void close() {
        int v = fd.getAndSet(-1);
        if (v >= 0) {
            try {
                LibC.close(v);
            } catch (LastErrorException e) {
                // close(2) releases the descriptor even when it reports an error
            }
        }
    }

    @Override
    public String toString() {
        return "Fd[" + fd.get() + " " + what + "]";
    }
}
