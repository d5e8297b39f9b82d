package vfio.posix;

import java.lang.ref.Reference;
import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * A connected AF_UNIX stream socket that can pass file descriptors (SCM_RIGHTS). One thread may send
 * while another receives; concurrent senders must serialise themselves (a message must not be
 * interleaved with another).
 */
public final class UnixSocket implements AutoCloseable {
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int SHUT_RDWR = 2;
    private static final int POLLIN = 1;
    /** Most descriptors one message may carry (the kernel's SCM_MAX_FD is 253). */
    public static final int MAX_FDS = 253;

    // struct msghdr / iovec / cmsghdr layout on 64-bit Linux
    private static final int MSG_IOV = 16;
    private static final int MSG_IOVLEN = 24;
    private static final int MSG_CONTROL = 32;
    private static final int MSG_CONTROLLEN = 40;
    private static final int MSG_FLAGS = 48;
    private static final int MSGHDR_SIZE = 56;
    private static final int IOV_SIZE = 16;
    private static final int CMSG_HDR = 16;
    private static final int CONTROL = MSGHDR_SIZE + IOV_SIZE;
    private static final int SCRATCH_SIZE = CONTROL + CMSG_HDR + MAX_FDS * 4 + 8;

    // msghdr, iovec and control area of the calling thread. Written with plain buffer stores: a JNA
    // Memory call per field would be a JNI call each, several per message (docs/benchmarks.md §2).
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private final Fd fd;
    // The last buffer sent from and received into, with its address: callers reuse their buffers, and
    // asking JNA for a direct buffer's address is a JNI call. Racy but safe: the records are immutable.
    private BufferAddress lastSent;
    private BufferAddress lastReceived;

    UnixSocket(Fd fd) {
        this.fd = fd;
    }

    /**
     * Connects to a listening socket.
     *
     * @throws ErrnoException ENOENT/ECONNREFUSED when nobody listens there (yet)
     */
    public static UnixSocket connect(Path path) throws ErrnoException {
        Memory addr = sockaddr(path);
        Fd fd = newSocket(path.toString());
        try {
            LibC.connect(fd.value(), Pointer.nativeValue(addr), (int) addr.size());
            return new UnixSocket(fd);
        } catch (LastErrorException e) {
            fd.close();
            throw Native.error("connect(" + path + ")", e);
        } finally {
            Reference.reachabilityFence(addr);
        }
    }

    /** @return two connected sockets (socketpair), each owned by the caller */
    public static UnixSocket[] pair() throws ErrnoException {
        int[] sv = new int[2];
        try {
            LibC.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
        } catch (LastErrorException e) {
            throw Native.error("socketpair", e);
        }
        return new UnixSocket[] {new UnixSocket(Fd.adopt(sv[0], "socketpair")),
                new UnixSocket(Fd.adopt(sv[1], "socketpair"))};
    }

    static Fd newSocket(String what) throws ErrnoException {
        try {
            return Fd.adopt(LibC.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket " + what);
        } catch (LastErrorException e) {
            throw Native.error("socket(AF_UNIX)", e);
        }
    }

    static Memory sockaddr(Path path) {
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length > 107) {
            throw new IllegalArgumentException("UNIX socket path too long (" + p.length
                    + " bytes, the limit is 107): " + path + "; use a shorter directory");
        }
        Memory addr = new Memory(2 + 108);
        addr.clear();
        addr.setShort(0, (short) AF_UNIX);
        addr.write(2, p, 0, p.length);
        return addr;
    }

    /** @return the socket's descriptor (owned by this object) */
    public Fd fd() {
        return fd;
    }

    /**
     * Sends all of {@code src}; the descriptors travel with the first bytes (in the same sendmsg).
     *
     * @param fds descriptors to pass (not closed; the peer receives duplicates); may be empty
     */
    public void send(ByteBuffer src, int[] fds) throws ErrnoException {
        if (fds.length > MAX_FDS) {
            throw new IllegalArgumentException(fds.length + " descriptors in one message, the limit is " + MAX_FDS);
        }
        Scratch s = SCRATCH.get();
        boolean first = true;
        while (src.hasRemaining() || (first && fds.length > 0)) {
            int len = src.remaining();
            boolean direct = src.isDirect();
            Memory copy = direct ? null : Native.scratch(Math.max(1, len));
            long data;
            if (direct) {
                lastSent = BufferAddress.of(src, lastSent);
                data = lastSent.base + src.position();
            } else {
                data = Pointer.nativeValue(copy);
                copy.write(0, src.array(), src.arrayOffset() + src.position(), len);
            }
            boolean withFds = first && fds.length > 0;
            if (withFds) {
                int dataLen = fds.length * 4;
                s.b.putLong(CONTROL, CMSG_HDR + dataLen);
                s.b.putInt(CONTROL + 8, SOL_SOCKET);
                s.b.putInt(CONTROL + 12, SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) {
                    s.b.putInt(CONTROL + CMSG_HDR + 4 * i, fds[i]);
                }
                s.header(data, len, CMSG_HDR + align8(dataLen));
            } else {
                s.header(data, len, 0);
            }
            long n;
            try {
                n = LibC.sendmsg(fd.value(), s.address, MSG_NOSIGNAL);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == Errno.EINTR) {
                    continue;
                }
                throw Native.error("sendmsg(" + fd.what() + ")", e);
            } finally {
                // Only addresses reach the kernel: keep their owners alive until it is done with them.
                Reference.reachabilityFence(copy);
                Reference.reachabilityFence(src);
            }
            first = false;
            src.position(src.position() + (int) n);
        }
    }

    /**
     * One recvmsg into {@code dst}. Received descriptors are close-on-exec and appended to {@code fds}
     * as owned {@link Fd}s (the caller closes them).
     *
     * @param maxFds how many descriptors this read accepts; more is a protocol error
     * @return bytes read; 0 when the peer closed the connection
     * @throws ErrnoException on a socket error, or EMSGSIZE if more descriptors came than accepted
     *                        (they are closed)
     */
    public int receive(ByteBuffer dst, List<Fd> fds, int maxFds) throws ErrnoException {
        return receive(dst, fds, maxFds, 0);
    }

    /**
     * As {@link #receive}, but returns at once when nothing is waiting (MSG_DONTWAIT): saves a poll
     * when the bytes are usually there already, as for the rest of a message.
     *
     * @return bytes read; 0 when the peer closed the connection; -1 when nothing was waiting
     */
    public int receiveIfReady(ByteBuffer dst, List<Fd> fds, int maxFds) throws ErrnoException {
        return receive(dst, fds, maxFds, MSG_DONTWAIT);
    }

    private int receive(ByteBuffer dst, List<Fd> fds, int maxFds, int flags) throws ErrnoException {
        if (maxFds > MAX_FDS) {
            throw new IllegalArgumentException("maxFds " + maxFds + " > " + MAX_FDS);
        }
        Scratch s = SCRATCH.get();
        int len = dst.remaining();
        boolean direct = dst.isDirect();
        Memory copy = direct ? null : Native.scratch(Math.max(1, len));
        long data;
        if (direct) {
            lastReceived = BufferAddress.of(dst, lastReceived);
            data = lastReceived.base + dst.position();
        } else {
            data = Pointer.nativeValue(copy);
        }
        int ctlLen = maxFds > 0 ? CMSG_HDR + align8(maxFds * 4) : 0;
        long n;
        while (true) {
            s.header(data, len, ctlLen);
            try {
                n = LibC.recvmsg(fd.value(), s.address, MSG_CMSG_CLOEXEC | flags);
                break;
            } catch (LastErrorException e) {
                if (e.getErrorCode() == Errno.EAGAIN && (flags & MSG_DONTWAIT) != 0) {
                    return -1;
                }
                if (e.getErrorCode() != Errno.EINTR) {
                    throw Native.error("recvmsg(" + fd.what() + ")", e);
                }
            } finally {
                Reference.reachabilityFence(copy);
                Reference.reachabilityFence(dst);
            }
        }
        int before = fds.size();
        long controlLen = Math.min(s.b.getLong(MSG_CONTROLLEN), ctlLen);
        int off = 0;
        while (off + CMSG_HDR <= controlLen) {
            long cmsgLen = s.b.getLong(CONTROL + off);
            if (cmsgLen < CMSG_HDR || off + cmsgLen > controlLen) {
                break;
            }
            if (s.b.getInt(CONTROL + off + 8) == SOL_SOCKET && s.b.getInt(CONTROL + off + 12) == SCM_RIGHTS) {
                int count = (int) ((cmsgLen - CMSG_HDR) / 4);
                for (int i = 0; i < count; i++) {
                    fds.add(Fd.adopt(s.b.getInt(CONTROL + off + CMSG_HDR + 4 * i), "received fd"));
                }
            }
            off += align8((int) cmsgLen);
        }
        if ((s.b.getInt(MSG_FLAGS) & MSG_CTRUNC) != 0 || fds.size() - before > maxFds) {
            while (fds.size() > before) {
                fds.remove(fds.size() - 1).close();
            }
            throw new ErrnoException("recvmsg(" + fd.what() + ")", Errno.EMSGSIZE,
                    "the peer sent more file descriptors than the " + maxFds + " expected; they were closed");
        }
        if (!direct && n > 0) {
            copy.read(0, dst.array(), dst.arrayOffset() + dst.position(), (int) n);
        }
        dst.position(dst.position() + (int) n);
        return (int) n;
    }

    /**
     * Waits until the socket is readable (data, end of stream or error).
     *
     * @param timeoutMs -1 waits forever
     * @return false on timeout
     */
    public boolean awaitReadable(int timeoutMs) throws ErrnoException {
        return poll(fd, timeoutMs);
    }

    static boolean poll(Fd fd, int timeoutMs) throws ErrnoException {
        Memory p = new Memory(8);
        p.setInt(0, fd.value());
        p.setShort(4, (short) POLLIN);
        p.setShort(6, (short) 0);
        try {
            return LibC.poll(Pointer.nativeValue(p), 1, timeoutMs) > 0;
        } catch (LastErrorException e) {
            if (e.getErrorCode() == Errno.EINTR) {
                return false;
            }
            throw Native.error("poll(" + fd.what() + ")", e);
        } finally {
            Reference.reachabilityFence(p); // the kernel writes revents into it, possibly much later
        }
    }

    /** Shuts both directions down: a thread blocked in {@link #receive} returns 0. Idempotent. */
    public void shutdown() {
        if (fd.isOpen()) {
            try {
                LibC.shutdown(fd.value(), SHUT_RDWR);
            } catch (LastErrorException | IllegalStateException e) {
                // already shut down or closed
            }
        }
    }

    /** Closes the socket. Idempotent. Call {@link #shutdown()} first to wake a blocked receiver. */
    @Override
    public void close() {
        fd.close();
    }

    private static int align8(int n) {
        return (n + 7) & ~7;
    }

    /** A thread's msghdr, its one iovec, then the control area; little-endian like the CPU (x86-64, arm64). */
    private static final class Scratch {
        final ByteBuffer b = ByteBuffer.allocateDirect(SCRATCH_SIZE).order(ByteOrder.nativeOrder());
        final long address = Native.address(b);

        /** Fills msghdr and iovec for one transfer; a control area of {@code controlLen} bytes, or none. */
        void header(long data, long len, long controlLen) {
            b.putLong(0, 0);          // msg_name
            b.putLong(8, 0);          // msg_namelen (and padding)
            b.putLong(MSG_IOV, address + MSGHDR_SIZE);
            b.putLong(MSG_IOVLEN, 1);
            b.putLong(MSG_CONTROL, controlLen > 0 ? address + CONTROL : 0);
            b.putLong(MSG_CONTROLLEN, controlLen);
            b.putLong(MSG_FLAGS, 0);  // msg_flags (and padding)
            b.putLong(MSGHDR_SIZE, data);
            b.putLong(MSGHDR_SIZE + 8, len);
        }
    }

    /** A direct buffer and its native base address. */
    private record BufferAddress(ByteBuffer buffer, long base) {
        /** @return {@code cached} if it is about {@code direct}, else a new one (a JNI call) */
        static BufferAddress of(ByteBuffer direct, BufferAddress cached) {
            if (cached != null && cached.buffer == direct) {
                return cached;
            }
            return new BufferAddress(direct, Native.address(direct) - direct.position());
        }
    }
}
