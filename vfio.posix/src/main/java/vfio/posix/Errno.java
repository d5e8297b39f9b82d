package vfio.posix;

import java.util.Map;

/** Linux errno numbers the platform meets, with names and short descriptions. */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int ENOTTY = 25;
    public static final int ESPIPE = 29;
    public static final int EPIPE = 32;
    public static final int ERANGE = 34;
    public static final int ENOSYS = 38;
    public static final int EMSGSIZE = 90;
    public static final int EPROTO = 71;
    public static final int EBADMSG = 74;
    public static final int EOVERFLOW = 75;
    public static final int EOPNOTSUPP = 95;
    public static final int EADDRINUSE = 98;
    public static final int ECONNRESET = 104;
    public static final int ENOTCONN = 107;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;

    private static final Map<Integer, String[]> NAMES = Map.ofEntries(
            Map.entry(EPERM, new String[] {"EPERM", "operation not permitted"}),
            Map.entry(ENOENT, new String[] {"ENOENT", "no such file or directory"}),
            Map.entry(3, new String[] {"ESRCH", "no such process"}),
            Map.entry(EINTR, new String[] {"EINTR", "interrupted system call"}),
            Map.entry(EIO, new String[] {"EIO", "input/output error"}),
            Map.entry(6, new String[] {"ENXIO", "no such device or address"}),
            Map.entry(7, new String[] {"E2BIG", "argument list too long"}),
            Map.entry(EBADF, new String[] {"EBADF", "bad file descriptor"}),
            Map.entry(EAGAIN, new String[] {"EAGAIN", "resource temporarily unavailable"}),
            Map.entry(ENOMEM, new String[] {"ENOMEM", "cannot allocate memory"}),
            Map.entry(EACCES, new String[] {"EACCES", "permission denied"}),
            Map.entry(EFAULT, new String[] {"EFAULT", "bad address"}),
            Map.entry(EBUSY, new String[] {"EBUSY", "device or resource busy"}),
            Map.entry(EEXIST, new String[] {"EEXIST", "file exists"}),
            Map.entry(ENODEV, new String[] {"ENODEV", "no such device"}),
            Map.entry(20, new String[] {"ENOTDIR", "not a directory"}),
            Map.entry(21, new String[] {"EISDIR", "is a directory"}),
            Map.entry(EINVAL, new String[] {"EINVAL", "invalid argument"}),
            Map.entry(24, new String[] {"EMFILE", "too many open files"}),
            Map.entry(ENOTTY, new String[] {"ENOTTY", "inappropriate ioctl for device"}),
            Map.entry(ENOSPC, new String[] {"ENOSPC", "no space left on device"}),
            Map.entry(ESPIPE, new String[] {"ESPIPE", "illegal seek"}),
            Map.entry(30, new String[] {"EROFS", "read-only file system"}),
            Map.entry(EPIPE, new String[] {"EPIPE", "broken pipe"}),
            Map.entry(ERANGE, new String[] {"ERANGE", "result out of range"}),
            Map.entry(36, new String[] {"ENAMETOOLONG", "file name too long"}),
            Map.entry(ENOSYS, new String[] {"ENOSYS", "function not implemented"}),
            Map.entry(EPROTO, new String[] {"EPROTO", "protocol error"}),
            Map.entry(EBADMSG, new String[] {"EBADMSG", "bad message"}),
            Map.entry(EOVERFLOW, new String[] {"EOVERFLOW", "value too large"}),
            Map.entry(88, new String[] {"ENOTSOCK", "not a socket"}),
            Map.entry(EMSGSIZE, new String[] {"EMSGSIZE", "message too long"}),
            Map.entry(EOPNOTSUPP, new String[] {"EOPNOTSUPP", "operation not supported"}),
            Map.entry(EADDRINUSE, new String[] {"EADDRINUSE", "address already in use"}),
            Map.entry(ECONNRESET, new String[] {"ECONNRESET", "connection reset by peer"}),
            Map.entry(ENOTCONN, new String[] {"ENOTCONN", "socket not connected"}),
            Map.entry(ETIMEDOUT, new String[] {"ETIMEDOUT", "timed out"}),
            Map.entry(ECONNREFUSED, new String[] {"ECONNREFUSED", "connection refused"}));

    private Errno() {
    }

    /** @return the symbolic name, e.g. {@code EINVAL}, or {@code errno N} */
    public static String name(int errno) {
        String[] n = NAMES.get(errno);
        return n != null ? n[0] : "errno " + errno;
    }

    /** @return a short description */
    public static String describe(int errno) {
        String[] n = NAMES.get(errno);
        return n != null ? n[1] : "unknown error";
    }
}
