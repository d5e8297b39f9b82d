package vfio.user.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import vfio.api.device.RegionCapability.SparseArea;

/**
 * A device exercising every feature of the library, for tests:
 * <ul>
 * <li>BAR0: 4 KiB of callback registers. Plain registers store what is written; 0x100 (write n)
 * makes the device DMA-read n bytes from the address in 0x108 into its buffer, on the connection
 * thread; 0x110 (write n) DMA-writes n bytes of its buffer to the address in 0x108. 0x118 holds the
 * errno of the last DMA (0 for success). The MSI-X table is at 0x800, its PBA at 0xc00.
 * <li>BAR2: 16 KiB of shared memory, mappable as a whole.
 * <li>BAR4 (64-bit, prefetchable): 16 KiB of shared memory; pages 1 and 3 are mappable, pages 0 and 2
 * trapped to callbacks.
 * <li>INTx, MSI with 4 vectors, MSI-X with 4 vectors; reset counter; migration of the register file.
 * </ul>
 */
final class TestDevice implements AutoCloseable {
    record Access(long offset, int size, boolean write, long value) {
    }

    final List<Access> accesses = new CopyOnWriteArrayList<>();
    final List<Access> trapped = new CopyOnWriteArrayList<>();
    final AtomicInteger resets = new AtomicInteger();
    final long[] registers = new long[512];
    final byte[] buffer = new byte[4096];
    final PciDevice device;

    TestDevice() throws IOException {
        RegionHandler bar0 = new RegionHandler() {
            @Override
            public long read(long offset, int size) {
                accesses.add(new Access(offset, size, false, 0));
                return registers[(int) offset / 8] >>> (8 * (offset % 8));
            }

            @Override
            public void write(long offset, int size, long value) {
                accesses.add(new Access(offset, size, true, value));
                int i = (int) offset / 8;
                if (offset == 0x100 || offset == 0x110) {
                    dma(offset == 0x110, (int) value);
                    return;
                }
                long mask = size == 8 ? -1L : ((1L << (8 * size)) - 1) << (8 * (offset % 8));
                registers[i] = registers[i] & ~mask | value << (8 * (offset % 8)) & mask;
            }
        };
        RegionHandler trap = new RegionHandler() {
            @Override
            public long read(long offset, int size) {
                trapped.add(new Access(offset, size, false, 0));
                return 0x5a5a5a5a5a5a5a5aL;
            }

            @Override
            public void write(long offset, int size, long value) {
                trapped.add(new Access(offset, size, true, value));
            }
        };
        device = PciDevice.builder().vendorId(0x1af4).deviceId(0x10ff).subsystem(0x1af4, 0x1100).classCode(0xff0000)
                .revision(3)
                .bar(0, Bar.mmio(4096, bar0))
                .bar(2, Bar.sharedMemory(16384))
                .bar(4, Bar.sharedMemory(16384, List.of(new SparseArea(4096, 4096), new SparseArea(12288, 4096)), trap)
                        .as64Bit().asPrefetchable())
                .intx().msi(4).msix(4, 0, 0x800, 0, 0xc00)
                .vendorCapability(new byte[] {1, 2, 3, 4, 5})
                .onReset(() -> {
                    resets.incrementAndGet();
                    java.util.Arrays.fill(registers, 0);
                })
                .migration(new MigrationHandler() {
                    @Override
                    public byte[] save() {
                        ByteBuffer b = ByteBuffer.allocate(registers.length * 8);
                        b.asLongBuffer().put(registers);
                        return b.array();
                    }

                    @Override
                    public void load(byte[] state) {
                        if (state.length != registers.length * 8) {
                            throw new IllegalArgumentException("state of " + state.length + " bytes, expected "
                                    + registers.length * 8);
                        }
                        ByteBuffer.wrap(state).asLongBuffer().get(registers);
                    }
                })
                .build();
    }

    private void dma(boolean toClient, int n) {
        long address = registers[0x108 / 8];
        try {
            ByteBuffer b = ByteBuffer.wrap(buffer, 0, n);
            if (toClient) {
                device.dma().write(address, b);
            } else {
                device.dma().read(address, b);
            }
            registers[0x118 / 8] = 0;
        } catch (DmaException e) {
            registers[0x118 / 8] = e.errno();
        }
    }

    /** @return this, for try-with-resources: closing closes the device */
    TestDevice autoClose() {
        return this;
    }

    static Path socketIn(Path dir) {
        return dir.resolve("dev.sock");
    }

    @Override
    public void close() {
        device.close();
    }

    /**
     * @return the open descriptors that a leak would show: sockets, eventfds, memfds, pipes and data
     *         files; not the class path jars, devices and JDK files that the JVM opens lazily on
     *         first use (they stay open and would make a count flaky)
     */
    static int openFds() throws IOException {
        String javaHome = System.getProperty("java.home");
        int n = 0;
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) s::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile (e.g. the directory stream of this listing)
                }
                if (!target.endsWith(".jar") && !target.startsWith("/dev/") && !target.startsWith(javaHome)) {
                    n++;
                }
            }
        }
        return n;
    }
}
