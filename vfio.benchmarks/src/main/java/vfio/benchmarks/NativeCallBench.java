package vfio.benchmarks;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import vfio.posix.ErrnoException;
import vfio.posix.Fd;
import vfio.posix.UnixSocket;

/**
 * What a native call through vfio.posix (JNA) costs, in one thread, beside native_calls.c doing the
 * same calls in C: a 4-byte {@code pread} of a file (the Linux VFIO backend's register read) and one
 * {@code sendmsg} plus one {@code recvmsg} of 32 bytes on a socketpair (what a vfio-user message
 * costs each side). No context switch is involved, so the difference is JNA's and the JVM's share.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class NativeCallBench {
    /** The file both this and native_calls.c read; run.sh creates it. */
    static final String FILE = "/dev/shm/vfio-bench-native-calls";
    private static final int[] NO_FDS = new int[0];

    private Fd file;
    private UnixSocket left;
    private UnixSocket right;
    private final ByteBuffer word = ByteBuffer.allocateDirect(4);
    private final ByteBuffer message = ByteBuffer.allocateDirect(32);
    private final ByteBuffer inbox = ByteBuffer.allocateDirect(16384);
    private final List<Fd> fds = new ArrayList<>();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        if (!Files.isRegularFile(Path.of(FILE))) {
            Files.write(Path.of(FILE), new byte[4096]);
        }
        file = Fd.open(FILE, 0);
        UnixSocket[] pair = UnixSocket.pair();
        left = pair[0];
        right = pair[1];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        file.close();
        left.close();
        right.close();
    }

    @Benchmark
    public int pread4() throws ErrnoException {
        return file.pread(word.clear(), 0x100);
    }

    @Benchmark
    public int sendReceive32() throws ErrnoException {
        left.send(message.clear(), NO_FDS);
        return right.receive(inbox.clear(), fds, 8);
    }
}
