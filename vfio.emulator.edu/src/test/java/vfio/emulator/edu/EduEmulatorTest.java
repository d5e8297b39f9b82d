package vfio.emulator.edu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import vfio.api.device.Pci;
import vfio.posix.EventFd;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFdSeals;
import vfio.user.protocol.Command;
import vfio.user.protocol.DmaMap;
import vfio.user.protocol.Message;
import vfio.user.protocol.SetIrqs;
import vfio.user.server.testing.TestClient;

/** The edu register map, over a real vfio-user socket. */
class EduEmulatorTest {
    static final int BAR0 = 0;
    static final int CONFIG = 7;
    static final int RW = DmaMap.FLAG_READ | DmaMap.FLAG_WRITE;
    static final int EVENTFD_TRIGGER = SetIrqs.DATA_EVENTFD | SetIrqs.ACTION_TRIGGER;

    @TempDir
    Path dir;
    EduEmulator edu;
    TestClient c;

    @BeforeEach
    void start() throws Exception {
        edu = EduEmulator.start(dir.resolve("edu.sock"));
        c = TestClient.open(edu.socket(), "{\"capabilities\":{\"max_msg_fds\":8}}");
    }

    @AfterEach
    void stop() {
        c.close();
        edu.close();
    }

    static void busMaster(TestClient c) throws Exception {
        c.write(CONFIG, 4, 2, 0x6);
    }

    /** Waits for an interrupt on {@code ev}, reading a register meanwhile (which also serves DMA messages). */
    static long awaitSignal(TestClient c, EventFd ev) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            long n = ev.drain();
            if (n > 0) {
                return n;
            }
            c.read(BAR0, 0x20, 4);
        }
        throw new AssertionError("no interrupt within 5 s");
    }

    /** Polls until {@code mask} clears in the register at {@code offset}. */
    static void awaitClear(TestClient c, long offset, int size, long mask) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while ((c.read(BAR0, offset, size) & mask) != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("bit 0x" + Long.toHexString(mask) + " of register 0x" + Long.toHexString(offset)
                        + " still set after 5 s");
            }
        }
    }

    static long factorial(TestClient c, long n) throws Exception {
        c.write(BAR0, 0x08, 4, n);
        awaitClear(c, 0x20, 4, 1);
        return c.read(BAR0, 0x08, 4);
    }

    @Test
    void identityAndPciHeaderMatchQemu() throws Exception {
        assertThat(c.read(CONFIG, 0, 4)).isEqualTo(0x11e81234L);
        assertThat(c.read(CONFIG, 8, 4)).as("class ff00, revision 0x10").isEqualTo(0xff000010L);
        assertThat(c.read(CONFIG, 0x3d, 1)).as("INTA").isEqualTo(1);
        c.write(CONFIG, 0x10, 4, 0xffffffffL);
        assertThat(c.read(CONFIG, 0x10, 4)).as("BAR0 is 1 MiB").isEqualTo(0xfff00000L);
        assertThat(c.read(BAR0, 0x00, 4)).isEqualTo(0x010000edL);
    }

    @Test
    void livenessReadsBackTheInverse() throws Exception {
        c.write(BAR0, 0x04, 4, 0x12345678L);
        assertThat(c.read(BAR0, 0x04, 4)).isEqualTo(0xedcba987L);
    }

    @Test
    void registersBelow0x80TakeOnlyFourByteAccesses() throws Exception {
        c.write(BAR0, 0x04, 4, 0);
        assertThat(c.read(BAR0, 0x00, 2)).isEqualTo(0xffff);
        assertThat(c.read(BAR0, 0x00, 1)).isEqualTo(0xff);
        assertThat(c.read(BAR0, 0x00, 8)).isEqualTo(-1L);
        c.write(BAR0, 0x04, 2, 0x1234);
        c.write(BAR0, 0x00, 8, 0x1234_0000_0000L);
        assertThat(c.read(BAR0, 0x04, 4)).as("ignored").isEqualTo(0xffffffffL);
        // an 8-byte access at 0x04 is not naturally aligned: split in two 4-byte accesses, as the
        // kernel's vfio-pci does, so it does reach the liveness register
        c.write(BAR0, 0x04, 8, 0x1234);
        assertThat(c.read(BAR0, 0x04, 4)).isEqualTo(~0x1234L & 0xffffffffL);
        assertThat(c.read(BAR0, 0x0c, 4)).as("unassigned").isEqualTo(0xffffffffL);
        c.write(BAR0, 0x80, 8, 0x123456789L);
        assertThat(c.read(BAR0, 0x80, 8)).as("DMA registers take 8 bytes").isEqualTo(0x123456789L);
        assertThat(c.read(BAR0, 0x80, 4)).isEqualTo(0x23456789L);
        assertThat(c.read(BAR0, 0x84, 4)).as("no register at 0x84").isEqualTo(0xffffffffL);
        assertThat(c.read(BAR0, 0x80, 2)).isEqualTo(0xffff);
    }

    @Test
    void factorialsWrapAt32Bits() throws Exception {
        assertThat(factorial(c, 0)).isEqualTo(1);
        assertThat(factorial(c, 10)).isEqualTo(3628800);
        assertThat(factorial(c, 12)).isEqualTo(479001600);
        assertThat(factorial(c, 13)).isEqualTo(6227020800L & 0xffffffffL);
        assertThat(factorial(c, 33)).isEqualTo(2147483648L);
        assertThat(factorial(c, 34)).isZero();
        assertThat(factorial(c, 0xffffffffL)).isZero();
    }

    @Test
    void aFactorialRaisesAnMsiWhenAsked() throws Exception {
        busMaster(c);
        try (EventFd msi = EventFd.create()) {
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, msi.fd().value())).isZero();
            c.write(BAR0, 0x20, 4, 0x80);
            c.write(BAR0, 0x08, 4, 5);
            assertThat(awaitSignal(c, msi)).isEqualTo(1);
            assertThat(c.read(BAR0, 0x08, 4)).isEqualTo(120);
            assertThat(c.read(BAR0, 0x24, 4)).isEqualTo(1);
            assertThat(c.read(BAR0, 0x20, 4)).isEqualTo(0x80);
            c.write(BAR0, 0x64, 4, 1);
            assertThat(c.read(BAR0, 0x24, 4)).isZero();
            c.write(BAR0, 0x20, 4, 0);
            factorial(c, 3);
            assertThat(msi.drain()).as("no interrupt without status bit 7").isZero();
        }
    }

    @Test
    void raisedInterruptsGoToIntxUntilAcknowledged() throws Exception {
        try (EventFd intx = EventFd.create()) {
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_INTX, 0, 1, intx.fd().value())).isZero();
            c.write(BAR0, 0x60, 4, 0x4);
            assertThat(intx.drain()).isEqualTo(1);
            assertThat(c.read(BAR0, 0x24, 4)).isEqualTo(4);
            assertThat(c.read(CONFIG, 6, 2) & 0x8).as("PCI status: INTx asserted").isEqualTo(8);
            c.write(BAR0, 0x60, 4, 0x10);
            assertThat(c.read(BAR0, 0x24, 4)).isEqualTo(0x14);
            c.write(BAR0, 0x64, 4, 0x4);
            assertThat(c.read(CONFIG, 6, 2) & 0x8).as("still 0x10 pending").isEqualTo(8);
            c.write(BAR0, 0x64, 4, 0x10);
            assertThat(c.read(CONFIG, 6, 2) & 0x8).isZero();
            assertThat(c.setIrqs(SetIrqs.DATA_NONE | SetIrqs.ACTION_UNMASK, Pci.IRQ_INTX, 0, 1)).isZero();
            assertThat(intx.drain()).as("line is low: nothing on unmask").isZero();
        }
    }

    @Test
    void dmaMovesDataBothWaysThroughASealedMemfd() throws Exception {
        busMaster(c);
        try (Fd ram = MemFdSeals.createSealed("guest-ram", 1 << 20); EventFd msi = EventFd.create()) {
            MappedMemory mem = MappedMemory.map(ram, 0, 1 << 20, true);
            try {
                assertThat(c.dmaMap(RW, 0, 0x100000, 1 << 20, ram.value())).isZero();
                assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, msi.fd().value())).isZero();
                for (int i = 0; i < 256; i++) {
                    mem.view().put(0x1000 + i, (byte) i);
                }
                dma(c, 0x101000, 0x40000, 256, 0x1 | 0x4);
                assertThat(awaitSignal(c, msi)).isEqualTo(1);
                assertThat(c.read(BAR0, 0x24, 4)).isEqualTo(0x100);
                c.write(BAR0, 0x64, 4, 0x100);
                dma(c, 0x40000, 0x180000, 256, 0x1 | 0x2);
                awaitClear(c, 0x98, 8, 1);
                for (int i = 0; i < 256; i++) {
                    assertThat(mem.view().get(0x80000 + i)).isEqualTo((byte) i);
                }
                // addresses are clamped to 28 bits, as QEMU's default dma_mask
                dma(c, 0x40000, (1L << 28) | 0x100000, 4, 0x1 | 0x2);
                awaitClear(c, 0x98, 8, 1);
                assertThat(mem.view().getInt(0)).isEqualTo(0x03020100);
            } finally {
                mem.unmap();
            }
        }
    }

    @Test
    void dmaWithoutAnFdGoesThroughMessages() throws Exception {
        busMaster(c);
        assertThat(c.dmaMap(RW, 0, c.memoryBase, c.memory.length)).isZero();
        byte[] text = "vfio-user DMA".getBytes();
        System.arraycopy(text, 0, c.memory, 0x10, text.length);
        dma(c, c.memoryBase + 0x10, 0x40100, text.length, 0x1);
        awaitClear(c, 0x98, 8, 1);
        dma(c, 0x40100, c.memoryBase + 0x200, text.length, 0x1 | 0x2);
        awaitClear(c, 0x98, 8, 1);
        assertThat(new String(c.memory, 0x200, text.length)).isEqualTo("vfio-user DMA");
        assertThat(c.dmaReadsServed.get()).isEqualTo(1);
        assertThat(c.dmaWritesServed.get()).isEqualTo(1);
    }

    @Test
    void dmaOutsideTheBufferOrWithoutBusMasteringMovesNothingButCompletes() throws Exception {
        assertThat(c.dmaMap(RW, 0, c.memoryBase, c.memory.length)).isZero();
        c.memory[0] = 7;
        dma(c, c.memoryBase, 0x40000, 1, 0x1);
        awaitClear(c, 0x98, 8, 1);
        assertThat(c.dmaReadsServed.get()).as("bus mastering is off").isZero();
        busMaster(c);
        dma(c, c.memoryBase, 0x40000 + 4090, 64, 0x1 | 0x4);
        awaitClear(c, 0x98, 8, 1);
        assertThat(c.read(BAR0, 0x24, 4)).as("completion interrupt all the same").isEqualTo(0x100);
        dma(c, 0x40000, c.memoryBase + 0x100, 8, 0x1 | 0x2);
        awaitClear(c, 0x98, 8, 1);
        assertThat(c.memory[0x100]).as("nothing came in").isZero();
        assertThat(c.dmaReadsServed.get()).isZero();
    }

    @Test
    void resetClearsTheRegisters() throws Exception {
        c.write(BAR0, 0x04, 4, 0);
        c.write(BAR0, 0x60, 4, 1);
        c.write(BAR0, 0x80, 8, 0x1234);
        assertThat(c.errnoOf(Command.DEVICE_RESET, null)).isZero();
        assertThat(c.read(BAR0, 0x04, 4)).isZero();
        assertThat(c.read(BAR0, 0x24, 4)).isZero();
        assertThat(c.read(BAR0, 0x80, 8)).isZero();
    }

    @Test
    void migrationCarriesTheRegistersAndTheDmaBuffer() throws Exception {
        busMaster(c);
        assertThat(c.dmaMap(RW, 0, c.memoryBase, c.memory.length)).isZero();
        c.memory[5] = 55;
        dma(c, c.memoryBase, 0x40000, 16, 0x1);
        awaitClear(c, 0x98, 8, 1);
        c.write(BAR0, 0x04, 4, 0xf0f0f0f0L);
        c.write(BAR0, 0x20, 4, 0x80);
        byte[] state;
        try (Message m = c.call(Command.DEVICE_FEATURE, feature(16, (1 << 17) | 2, 3, -1))) {
            TestClient.check(m);
        }
        try (Message m = c.call(Command.MIG_DATA_READ, TestClient.le(8).putInt(1 << 16).putInt(1 << 16).flip())) {
            TestClient.check(m);
            ByteBuffer b = m.body();
            state = new byte[b.getInt(4)];
            b.position(8);
            b.get(state);
        }
        try (EduEmulator other = EduEmulator.start(dir.resolve("other.sock"), Duration.ofMillis(1));
                TestClient d = TestClient.open(other.socket(), null)) {
            assertThat(d.errnoOf(Command.DEVICE_FEATURE, feature(16, (1 << 17) | 2, 4, -1))).isZero();
            ByteBuffer w = TestClient.le(8 + state.length).putInt(8).putInt(state.length).put(state).flip();
            assertThat(d.errnoOf(Command.MIG_DATA_WRITE, w)).isZero();
            assertThat(d.errnoOf(Command.DEVICE_FEATURE, feature(16, (1 << 17) | 2, 2, -1))).isZero();
            assertThat(d.read(BAR0, 0x04, 4)).isEqualTo(0x0f0f0f0fL);
            assertThat(d.read(BAR0, 0x20, 4)).isEqualTo(0x80);
            busMaster(d);
            assertThat(d.dmaMap(RW, 0, d.memoryBase, d.memory.length)).isZero();
            dma(d, 0x40000, d.memoryBase + 0x300, 16, 0x1 | 0x2);
            awaitClear(d, 0x98, 8, 1);
            assertThat(d.memory[0x305]).isEqualTo((byte) 55);
        }
    }

    static ByteBuffer feature(int argsz, int flags, int... data) {
        ByteBuffer b = TestClient.le(8 + 4 * data.length).putInt(argsz).putInt(flags);
        for (int v : data) {
            b.putInt(v);
        }
        return b.flip();
    }

    static void dma(TestClient c, long src, long dst, long count, long cmd) throws Exception {
        c.write(BAR0, 0x80, 8, src);
        c.write(BAR0, 0x88, 8, dst);
        c.write(BAR0, 0x90, 8, count);
        c.write(BAR0, 0x98, 8, cmd);
    }
}
