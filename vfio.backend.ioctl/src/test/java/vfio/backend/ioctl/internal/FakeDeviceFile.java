package vfio.backend.ioctl.internal;

import static vfio.backend.ioctl.internal.abi.VfioAbi.*;

import com.sun.jna.Memory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import vfio.backend.ioctl.internal.kernel.KernelFile;
import vfio.posix.ErrnoException;
import vfio.posix.MappedMemory;

/**
 * A VFIO device file played by a test: answers GET_INFO and GET_REGION_INFO from scripted bytes
 * following the kernel's argsz protocol, records every other ioctl's argument bytes, and fails
 * requests with scripted errnos.
 */
final class FakeDeviceFile implements KernelFile {
    int deviceFlags = 2; // VFIO_DEVICE_FLAGS_PCI
    int numRegions = 1;
    int numIrqs = 1;
    /** Region index to the full reply (fixed part and capability chain) the fake kernel gives. */
    final Map<Integer, byte[]> regionReplies = new HashMap<>();
    /** Request to errno the fake fails it with. */
    final Map<Long, Integer> failures = new HashMap<>();
    /** Request name and argument bytes of every ioctl other than the info queries. */
    final List<String> calls = new ArrayList<>();
    final List<byte[]> arguments = new ArrayList<>();
    int regionInfoCalls;
    /** When set, every region info answer claims this many more bytes than the last request. */
    boolean growForever;
    boolean closed;

    /** A region info reply: fixed part, then capabilities laid out by the test. */
    static ByteBuffer regionReply(int index, int flags, long size, long offset, int capOffset, int totalSize) {
        ByteBuffer b = ByteBuffer.allocate(totalSize).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, totalSize).putInt(4, flags).putInt(8, index).putInt(12, capOffset).putLong(16, size)
                .putLong(24, offset);
        return b;
    }

    @Override
    public String what() {
        return "fake VFIO device";
    }

    @Override
    public int descriptor() {
        return 99;
    }

    @Override
    public int ioctl(String name, long request, Memory arg) throws ErrnoException {
        Integer errno = failures.get(request);
        if (errno != null) {
            throw new ErrnoException("ioctl(" + name + ")", errno, null);
        }
        if (request == VFIO_DEVICE_GET_INFO) {
            arg.setInt(4, deviceFlags);
            arg.setInt(8, numRegions);
            arg.setInt(12, numIrqs);
            return 0;
        }
        if (request == VFIO_DEVICE_GET_REGION_INFO) {
            regionInfoCalls++;
            int argsz = arg.getInt(0);
            int index = arg.getInt(8);
            byte[] reply = regionReplies.get(index);
            if (reply == null) {
                throw new ErrnoException("ioctl(" + name + ")", 22, null);
            }
            if (growForever) {
                arg.setInt(0, argsz + 8);
                return 0;
            }
            int needed = ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
            if (argsz < needed) {
                // The kernel's answer when the chain does not fit: the fixed part, the size it needs, no chain.
                arg.write(0, reply, 0, REGION_INFO_SIZE);
                arg.setInt(0, needed);
                arg.setInt(REGION_INFO_CAP_OFFSET, 0);
                arg.setInt(REGION_INFO_FLAGS, arg.getInt(REGION_INFO_FLAGS) | 8);
            } else {
                arg.write(0, reply, 0, reply.length);
            }
            return 0;
        }
        calls.add(name);
        arguments.add(arg.getByteArray(0, (int) arg.size()));
        return 0;
    }

    @Override
    public int ioctl(String name, long request, long arg) throws ErrnoException {
        Integer errno = failures.get(request);
        if (errno != null) {
            throw new ErrnoException("ioctl(" + name + ")", errno, null);
        }
        calls.add(name);
        return 0;
    }

    @Override
    public int pread(ByteBuffer dst, long offset) {
        return 0;
    }

    @Override
    public int pwrite(ByteBuffer src, long offset) {
        return 0;
    }

    @Override
    public MappedMemory map(long offset, long size, boolean writable) throws ErrnoException {
        throw new ErrnoException("mmap", 19, null);
    }

    @Override
    public KernelFile adopt(int descriptor, String what) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
        closed = true;
    }
}
