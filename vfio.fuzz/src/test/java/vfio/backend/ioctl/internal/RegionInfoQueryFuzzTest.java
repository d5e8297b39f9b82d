package vfio.backend.ioctl.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.sun.jna.Memory;
import java.nio.ByteBuffer;
import vfio.backend.ioctl.internal.kernel.KernelFile;
import vfio.fuzz.Findings;
import vfio.posix.ErrnoException;
import vfio.posix.MappedMemory;

/**
 * The Linux backend's {@code VFIO_DEVICE_GET_REGION_INFO} query (the argsz retry, then the
 * capability chain) against a kernel whose every answer is fuzzer bytes. It lives in the backend's
 * package because the query is package-private; only {@code DeviceException}s may come out and the
 * number of ioctls stays bounded.
 */
class RegionInfoQueryFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void regionInfoQuery(FuzzedDataProvider data) {
        FuzzedKernel kernel = new FuzzedKernel(data);
        int index = data.consumeInt(0, 8);
        Findings.refusalAllowed(() -> IoctlDeviceOps.readRegionInfo(kernel, index));
        if (kernel.calls > 4) {
            throw new AssertionError("the query made " + kernel.calls + " ioctls; it retries 4 times at most");
        }
    }

    /** A kernel that writes fuzzer bytes over each ioctl argument, or fails it with a fuzzer errno. */
    private static final class FuzzedKernel implements KernelFile {
        private final FuzzedDataProvider data;
        int calls;

        FuzzedKernel(FuzzedDataProvider data) {
            this.data = data;
        }

        @Override
        public String what() {
            return "fuzzed VFIO device";
        }

        @Override
        public int descriptor() {
            return 99;
        }

        @Override
        public int ioctl(String name, long request, Memory arg) throws ErrnoException {
            calls++;
            if (data.consumeBoolean() && data.consumeBoolean()) {
                throw new ErrnoException("ioctl(" + name + ")", data.consumeInt(1, 133), null);
            }
            byte[] reply = data.consumeBytes((int) arg.size());
            arg.write(0, reply, 0, reply.length);
            return 0;
        }

        @Override
        public int ioctl(String name, long request, long arg) {
            throw new UnsupportedOperationException("not used by the region info query");
        }

        @Override
        public int pread(ByteBuffer dst, long offset) {
            throw new UnsupportedOperationException("not used by the region info query");
        }

        @Override
        public int pwrite(ByteBuffer src, long offset) {
            throw new UnsupportedOperationException("not used by the region info query");
        }

        @Override
        public MappedMemory map(long offset, long size, boolean writable) {
            throw new UnsupportedOperationException("not used by the region info query");
        }

        @Override
        public KernelFile adopt(int descriptor, String what) {
            throw new UnsupportedOperationException("not used by the region info query");
        }

        @Override
        public void close() {
        }
    }
}
