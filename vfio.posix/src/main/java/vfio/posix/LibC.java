package vfio.posix;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * The C library functions the platform uses, direct-mapped (fast JNA calls). Pointers are passed as
 * {@code long} addresses. Package-private: callers use the typed wrappers of this package.
 */
final class LibC {
    static {
        Native.register(Platform.C_LIBRARY_NAME);
    }

    private LibC() {
    }

    static native int open(String path, int flags, int mode) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;

    static native long read(int fd, long buf, long count) throws LastErrorException;

    static native long write(int fd, long buf, long count) throws LastErrorException;

    static native long pread(int fd, long buf, long count, long offset) throws LastErrorException;

    static native long pwrite(int fd, long buf, long count, long offset) throws LastErrorException;

    static native int ioctl(int fd, long request, long arg) throws LastErrorException;

    static native long mmap(long addr, long length, int prot, int flags, int fd, long offset)
            throws LastErrorException;

    static native int munmap(long addr, long length) throws LastErrorException;

    static native int ftruncate(int fd, long length) throws LastErrorException;

    static native int fcntl(int fd, int cmd, long arg) throws LastErrorException;

    static native int dup(int fd) throws LastErrorException;

    static native int poll(long fds, long nfds, int timeout) throws LastErrorException;

    static native int socket(int domain, int type, int protocol) throws LastErrorException;

    static native int bind(int fd, long addr, int len) throws LastErrorException;

    static native int listen(int fd, int backlog) throws LastErrorException;

    static native int accept4(int fd, long addr, long len, int flags) throws LastErrorException;

    static native int connect(int fd, long addr, int len) throws LastErrorException;

    static native long sendmsg(int fd, long msg, int flags) throws LastErrorException;

    static native long recvmsg(int fd, long msg, int flags) throws LastErrorException;

    static native int shutdown(int fd, int how) throws LastErrorException;

    static native int socketpair(int domain, int type, int protocol, int[] sv) throws LastErrorException;

    // Linux only: callers check Platform.isLinux() first.
    static native int eventfd(int initval, int flags) throws LastErrorException;

    static native int memfd_create(String name, int flags) throws LastErrorException;

    static native int epoll_create1(int flags) throws LastErrorException;

    static native int epoll_ctl(int epfd, int op, int fd, long event) throws LastErrorException;

    static native int epoll_wait(int epfd, long events, int maxevents, int timeout) throws LastErrorException;

    static native long sysconf(int name);
}
