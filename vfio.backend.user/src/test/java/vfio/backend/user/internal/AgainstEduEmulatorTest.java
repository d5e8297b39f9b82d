package vfio.backend.user.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import vfio.api.backend.IrqSet;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.Pci;
import vfio.api.device.RegionInfo;
import vfio.backend.user.internal.device.VfioUserDevice;
import vfio.emulator.edu.EduEmulator;
import vfio.posix.Epoll;
import vfio.posix.EventFd;

/**
 * The client against the platform's own vfio-user server library, serving the edu emulation: the
 * register map, the factorial with its MSI through an eventfd, and DMA both through the shared memfd
 * and through DMA_READ/DMA_WRITE messages, in twin-socket and single-socket mode.
 */
@Timeout(60)
class AgainstEduEmulatorTest {
    private static final int ID = 0x00, LIVENESS = 0x04, FACTORIAL = 0x08, STATUS = 0x20, IRQ_STATUS = 0x24,
            IRQ_ACK = 0x64, DMA_SRC = 0x80, DMA_DST = 0x88, DMA_COUNT = 0x90, DMA_CMD = 0x98;
    private static final long EDU_BUFFER = 0x40000;

    @TempDir
    Path dir;
    private EduEmulator edu;
    private VfioUserDevice ops;

    @AfterEach
    void stop() {
        if (ops != null) {
            ops.close();
        }
        if (edu != null) {
            edu.close();
        }
    }

    private VfioUserDevice open(boolean twin) throws Exception {
        if (edu == null) {
            edu = EduEmulator.start(dir.resolve("edu.sock"));
        }
        VfioUserBackendFactory factory = new VfioUserBackendFactory(Duration.ofSeconds(2), List.of(), 1 << 20, twin, false);
        ops = (VfioUserDevice) factory.open(new OpenRequest("edu", "vfio-user:" + edu.socket(), Duration.ofSeconds(5),
                Map.of()));
        return ops;
    }

    @Test
    void identifiesAsEduAndAnswersTheLivenessCheck() throws Exception {
        open(true);
        assertThat(ops.twinSocket()).isTrue();
        assertThat(ops.deviceInfo().isPci()).isTrue();
        assertThat(ops.deviceInfo().numRegions()).isEqualTo(Pci.NUM_REGIONS);
        RegionInfo bar0 = ops.regionInfo(0);
        assertThat(bar0.size()).isEqualTo(1 << 20);
        assertThat(read32(ID)).isEqualTo(0x010000ed);
        write32(LIVENESS, 0x12345678);
        assertThat(read32(LIVENESS)).isEqualTo(~0x12345678);
        int vendorDevice = readConfig32(0);
        assertThat(vendorDevice).isEqualTo(EduEmulator.DEVICE_ID << 16 | EduEmulator.VENDOR_ID);
    }

    @Test
    void computesAFactorialAndSignalsCompletionThroughMsi() throws Exception {
        open(true);
        enableBusMaster();
        try (EventFd msi = EventFd.create(); Epoll epoll = Epoll.create(1)) {
            epoll.add(msi.fd().value(), Epoll.IN, 1);
            ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, List.of(DeviceOperationsTest.signal(msi))));
            write32(STATUS, 0x80); // interrupt when done
            write32(FACTORIAL, 10);
            awaitSignal(epoll, msi);
            assertThat(read32(FACTORIAL)).isEqualTo(3628800);
            assertThat(read32(IRQ_STATUS) & 1).isEqualTo(1);
            write32(IRQ_ACK, 1);
            assertThat(read32(IRQ_STATUS)).isZero();
            ops.setIrqs(IrqSet.disable(Pci.IRQ_MSI));
        }
    }

    @ParameterizedTest(name = "twin socket: {0}, memory shared by fd: {1}")
    @org.junit.jupiter.params.provider.CsvSource({"true,true", "true,false", "false,true", "false,false"})
    void dmaCopiesToTheDeviceAndBack(boolean twin, boolean shareFd) throws Exception {
        open(twin);
        assertThat(ops.twinSocket()).isEqualTo(twin);
        enableBusMaster();
        try (EventFd msi = EventFd.create(); Epoll epoll = Epoll.create(1);
                TestDmaMemory mem = TestDmaMemory.create(0x2000, shareFd)) {
            epoll.add(msi.fd().value(), Epoll.IN, 1);
            ops.setIrqs(IrqSet.enable(Pci.IRQ_MSI, List.of(DeviceOperationsTest.signal(msi))));
            long iova = 0x100000;
            ops.dmaMap(mem, iova, true, true);
            ByteBuffer m = mem.memory();
            for (int i = 0; i < 256; i++) {
                m.put(i, (byte) (i * 3 + 1));
            }
            dma(iova, EDU_BUFFER, 256, 0x1 | 0x4); // RAM to device, interrupt
            awaitSignal(epoll, msi);
            write32(IRQ_ACK, 0x100);
            dma(EDU_BUFFER, iova + 0x1000, 256, 0x1 | 0x2 | 0x4); // device to RAM, interrupt
            awaitSignal(epoll, msi);
            write32(IRQ_ACK, 0x100);
            for (int i = 0; i < 256; i++) {
                assertThat(m.get(0x1000 + i)).as("byte %d", i).isEqualTo((byte) (i * 3 + 1));
            }
            assertThat(m.get(0x1000 + 256)).isZero();
            ops.dmaUnmap(iova, 0x2000);
            ops.setIrqs(IrqSet.disable(Pci.IRQ_MSI));
        }
    }

    @Test
    void resetClearsTheRegisters() throws Exception {
        open(true);
        write32(LIVENESS, 1);
        assertThat(read32(LIVENESS)).isEqualTo(~1);
        ops.reset();
        assertThat(read32(LIVENESS)).isZero();
    }

    @Test
    void eightThreadsReadTheIdRegisterConcurrently() throws Exception {
        open(true);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            Thread th = new Thread(() -> {
                try {
                    for (int i = 0; i < 1000; i++) {
                        if (read32(ID) != 0x010000ed) {
                            failures.add(new AssertionError("wrong id"));
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join(30_000);
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void aRestartedServerIsReachedByOpeningAgain() throws Exception {
        open(true);
        Path socket = edu.socket();
        edu.close();
        edu = null;
        assertThatThrownBy(() -> read32(ID)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("closed the connection");
        ops.close();
        VfioUserBackendFactory factory = Fixture.factory();
        assertThat(factory.match("vfio-user:" + socket).matches()).isFalse();
        edu = EduEmulator.start(socket);
        assertThat(factory.match("vfio-user:" + socket).matches()).isTrue();
        open(true);
        assertThat(read32(ID)).isEqualTo(0x010000ed);
    }

    private void dma(long src, long dst, long count, long cmd) {
        write64(DMA_SRC, src);
        write64(DMA_DST, dst);
        write64(DMA_COUNT, count);
        write64(DMA_CMD, cmd);
    }

    private void enableBusMaster() {
        ByteBuffer b = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(Pci.REGION_CONFIG, 4, b);
        int command = b.getShort(0) & 0xffff;
        ops.regionWrite(Pci.REGION_CONFIG, 4, ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN)
                .putShort(0, (short) (command | 0x6)), false);
    }

    private static void awaitSignal(Epoll epoll, EventFd e) throws Exception {
        long[] tokens = new long[1];
        assertThat(epoll.await(tokens, null, 10_000)).as("interrupt within 10 s").isEqualTo(1);
        assertThat(e.drain()).isPositive();
    }

    private int readConfig32(long offset) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(Pci.REGION_CONFIG, offset, b);
        return b.getInt(0);
    }

    private int read32(long offset) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        ops.regionRead(0, offset, b);
        return b.getInt(0);
    }

    private void write32(long offset, int value) {
        ops.regionWrite(0, offset, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, value), false);
    }

    private void write64(long offset, long value) {
        ops.regionWrite(0, offset, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value), false);
    }
}
