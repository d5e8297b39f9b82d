package vfio.user.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import vfio.posix.Errno;
import vfio.posix.Fd;
import vfio.posix.MappedMemory;
import vfio.posix.MemFd;
import vfio.posix.MemFdSeals;
import vfio.user.protocol.Command;
import vfio.user.protocol.DmaMap;
import vfio.user.protocol.DmaUnmap;
import vfio.user.protocol.Message;
import vfio.user.server.testing.TestClient;

class DmaTest extends ServerFixture {
    static final int RW = DmaMap.FLAG_READ | DmaMap.FLAG_WRITE;
    static final long IOVA = 0x10000000L;

    @Override
    ServerOptions options() {
        return ServerOptions.defaults().withMaxDmaMaps(4).withDmaTimeoutMs(1000);
    }

    private static void busMaster(TestClient c) throws Exception {
        c.write(7, 4, 2, 0x4);
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "sealed memfd: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void deviceCodeReachesMemoryTheClientPassedByFd(boolean sealed) throws Exception {
        try (TestClient c = client();
                Fd memfd = sealed ? MemFdSeals.createSealed("guest", 65536) : MemFd.create("guest", 65536)) {
            MappedMemory guest = MappedMemory.map(memfd, 0, 65536, true);
            try {
                busMaster(c);
                assertThat(c.dmaMap(RW, 0, IOVA, 65536, memfd.value())).isZero();
                guest.view().putLong(0x100, 0x0123456789abcdefL);
                Dma dma = test.device.dma();
                ByteBuffer b = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                dma.read(IOVA + 0x100, b);
                assertThat(b.flip().getLong()).isEqualTo(0x0123456789abcdefL);
                dma.write(IOVA + 0xfffc, ByteBuffer.wrap(new byte[] {1, 2, 3, 4}));
                assertThat(guest.view().getInt(0xfffc)).isEqualTo(0x04030201);
                assertThat(dma.isMapped(IOVA, 65536, true)).isTrue();
                assertThat(dma.isMapped(IOVA, 65537, false)).isFalse();

                // out of the window, by one byte
                assertThatThrownBy(() -> dma.read(IOVA + 65535, ByteBuffer.allocate(2)))
                        .isInstanceOfSatisfying(DmaException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EFAULT));
                assertThatThrownBy(() -> dma.read(IOVA - 1, ByteBuffer.allocate(1))).isInstanceOf(DmaException.class);

                // the device's own register-triggered DMA (on the connection thread) through the mapping
                System.arraycopy(new byte[] {9, 8, 7}, 0, test.buffer, 0, 3);
                c.write(0, 0x108, 8, IOVA + 0x2000);
                c.write(0, 0x110, 4, 3);
                assertThat(c.read(0, 0x118, 8)).isZero();
                assertThat(guest.view().get(0x2002)).isEqualTo((byte) 7);
            } finally {
                guest.unmap();
            }
        }
    }

    @Test
    void dmaNeedsBusMasteringAndTheRightPermission() throws Exception {
        try (TestClient c = client(); Fd memfd = MemFd.create("guest", 4096)) {
            assertThat(c.dmaMap(DmaMap.FLAG_READ, 0, IOVA, 4096, memfd.value())).isZero();
            Dma dma = test.device.dma();
            assertThatThrownBy(() -> dma.read(IOVA, ByteBuffer.allocate(4))).isInstanceOf(DmaException.class)
                    .hasMessageContaining("bus mastering");
            busMaster(c);
            dma.read(IOVA, ByteBuffer.allocate(4));
            assertThatThrownBy(() -> dma.write(IOVA, ByteBuffer.allocate(4))).isInstanceOfSatisfying(DmaException.class,
                    e -> assertThat(e.errno()).isEqualTo(Errno.EFAULT));
        }
    }

    @Test
    void mapAndUnmapFollowTheRules() throws Exception {
        try (TestClient c = client(); Fd memfd = MemFd.create("guest", 8192)) {
            assertThat(c.dmaMap(RW, 0, IOVA, 4096)).isZero();
            assertThat(c.dmaMap(RW, 0, IOVA + 4095, 2)).as("overlap").isEqualTo(Errno.EEXIST);
            assertThat(c.dmaMap(RW, 0, IOVA - 4096, 4097)).as("overlap from below").isEqualTo(Errno.EEXIST);
            assertThat(c.dmaMap(RW, 0, IOVA + 4096, 4096)).as("adjacent").isZero();
            assertThat(c.dmaMap(0, 0, IOVA + 8192, 4096)).as("no permission").isEqualTo(Errno.EINVAL);
            assertThat(c.dmaMap(8 | RW, 0, IOVA + 8192, 4096)).as("unknown flag").isEqualTo(Errno.EINVAL);
            assertThat(c.dmaMap(RW, 0, IOVA + 8192, 0)).as("empty").isEqualTo(Errno.EINVAL);
            assertThat(c.dmaMap(RW, 0, Long.MAX_VALUE - 10, 4096)).as("wraps").isEqualTo(Errno.EINVAL);
            assertThat(c.dmaMap(RW, 4096, IOVA + 8192, 8192, memfd.value())).as("past the end of the file")
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.dmaMap(RW, 100, IOVA + 8192, 4096, memfd.value())).as("unaligned offset is fine").isZero();
            assertThat(c.dmaMap(RW, 0, IOVA + 0x100000, 4096)).isZero();
            assertThat(c.dmaMap(RW, 0, IOVA + 0x200000, 4096)).as("max_dma_maps is 4").isEqualTo(Errno.ENOSPC);

            assertThat(unmap(c, 0, IOVA, 4095)).as("not an exact match").isEqualTo(Errno.ENOENT);
            assertThat(unmap(c, 0, IOVA + 1, 4096)).isEqualTo(Errno.ENOENT);
            assertThat(unmap(c, 1, IOVA, 4096)).as("dirty bitmap flag").isEqualTo(Errno.EINVAL);
            assertThat(unmap(c, DmaUnmap.FLAG_ALL, IOVA, 0)).as("all needs zeros").isEqualTo(Errno.EINVAL);
            try (Message reply = c.call(Command.DMA_UNMAP, new DmaUnmap(0, IOVA, 4096).encode())) {
                TestClient.check(reply);
                assertThat(reply.body().remaining()).as("the request is echoed").isEqualTo(DmaUnmap.SIZE);
                assertThat(reply.body().getLong(8)).isEqualTo(IOVA);
            }
            assertThat(unmap(c, 0, IOVA, 4096)).as("already gone").isEqualTo(Errno.ENOENT);
            assertThat(unmap(c, DmaUnmap.FLAG_ALL, 0, 0)).isZero();
            assertThat(test.device.dma().isMapped(IOVA + 4096, 1, false)).isFalse();
            assertThat(c.dmaMap(RW, 0, IOVA, 4096)).as("room again").isZero();
        }
    }

    @Test
    void refusedMapsCloseTheirDescriptors() throws Exception {
        try (TestClient c = client(); Fd a = MemFd.create("a", 4096); Fd b = MemFd.create("b", 4096)) {
            int before = TestDevice.openFds();
            assertThat(c.dmaMap(RW, 0, IOVA, 4096, a.value(), b.value())).as("two fds").isEqualTo(Errno.EINVAL);
            assertThat(c.dmaMap(RW, 0, IOVA, 8192, a.value())).as("file too small").isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_GET_INFO, DeviceCommandsTest.info16(16), a.value()))
                    .as("fd on a command without fds").isEqualTo(Errno.EINVAL);
            assertThat(TestDevice.openFds()).isEqualTo(before);
            int[] pipe = pipeFds();
            try {
                assertThat(c.dmaMap(RW, 0, IOVA, 4096, pipe[0])).as("not a regular file").isEqualTo(Errno.EINVAL);
            } finally {
                closeRaw(pipe);
            }
        }
    }

    @Test
    void withoutAnFdTheServerSendsDmaMessages() throws Exception {
        try (TestClient c = client()) {
            busMaster(c);
            assertThat(c.dmaMap(RW, 0, c.memoryBase, c.memory.length)).isZero();
            c.memory[0x10] = 42;
            // device code on its own thread: the client answers the DMA_READ while it is idle
            CompletableFuture<Byte> read = CompletableFuture.supplyAsync(() -> {
                ByteBuffer b = ByteBuffer.allocate(1);
                try {
                    test.device.dma().read(c.memoryBase + 0x10, b);
                } catch (DmaException e) {
                    throw new RuntimeException(e);
                }
                return b.get(0);
            });
            try (Message m = c.receive()) {
                assertThat(m.header().command()).isEqualTo(Command.DMA_READ.code());
                assertThat(m.header().isReply()).isFalse();
                c.serve(m);
            }
            assertThat(read.get(5, TimeUnit.SECONDS)).isEqualTo((byte) 42);

            // device code inside a register write, on the connection thread: the client serves the
            // DMA_WRITE while it waits for its REGION_WRITE reply
            System.arraycopy("hello".getBytes(), 0, test.buffer, 0, 5);
            c.write(0, 0x108, 8, c.memoryBase + 0x100);
            c.write(0, 0x110, 4, 5);
            assertThat(new String(c.memory, 0x100, 5)).isEqualTo("hello");
            assertThat(c.dmaWritesServed.get()).isEqualTo(1);
        }
    }

    @Test
    void largeMessageTransfersAreSplitToTheTransferSize() throws Exception {
        try (TestClient c = TestClient.open(socket, "{\"capabilities\":{\"max_data_xfer_size\":1024}}")) {
            busMaster(c);
            assertThat(c.dmaMap(RW, 0, c.memoryBase, c.memory.length)).isZero();
            for (int i = 0; i < 4096; i++) {
                c.memory[i] = (byte) i;
            }
            c.write(0, 0x108, 8, c.memoryBase);
            c.write(0, 0x100, 4, 4096);
            assertThat(c.read(0, 0x118, 8)).isZero();
            assertThat(c.dmaReadsServed.get()).isEqualTo(4);
            assertThat(test.buffer[4095]).isEqualTo((byte) 4095);
        }
    }

    @Test
    void commandsPipelinedDuringTheServersDmaRunAfterTheCommandThatStartedIt() throws Exception {
        try (TestClient c = client()) {
            busMaster(c);
            assertThat(c.dmaMap(RW, 0, c.memoryBase, c.memory.length)).isZero();
            c.write(0, 0x108, 8, c.memoryBase);
            c.write(0, 0x118, 8, 0x77);
            c.memory[3] = 5;
            int dmaStart = c.send(Command.REGION_WRITE, TestClient.regionWriteBody(0, 0x100, new byte[] {4, 0, 0, 0}),
                    false);
            int status = c.send(Command.REGION_READ, DeviceCommandsTest.access(0, 0x118, 8), false);
            try (Message m = c.receive()) {
                assertThat(m.header().command()).isEqualTo(Command.DMA_READ.code());
                c.serve(m);
            }
            try (Message m = c.awaitReply(dmaStart, Command.REGION_WRITE)) {
                TestClient.check(m);
            }
            try (Message m = c.awaitReply(status, Command.REGION_READ)) {
                TestClient.check(m);
                assertThat(m.body().getLong(16)).as("read after the DMA finished").isZero();
            }
            assertThat(test.buffer[3]).isEqualTo((byte) 5);
        }
    }

    @Test
    void aRefusedOrUnansweredDmaFailsTheDeviceNotTheSession() throws Exception {
        try (TestClient c = client()) {
            busMaster(c);
            assertThat(c.dmaMap(RW, 0, c.memoryBase, c.memory.length)).isZero();
            c.write(0, 0x108, 8, c.memoryBase);
            c.refuseDmaWith = Errno.EACCES;
            c.write(0, 0x100, 4, 4);
            assertThat(c.read(0, 0x118, 8)).isEqualTo(Errno.EACCES);
            c.refuseDmaWith = 0;
            c.ignoreDma = true;
            c.write(0, 0x100, 4, 4);
            assertThat(c.read(0, 0x118, 8)).isEqualTo(Errno.ETIMEDOUT);
            c.ignoreDma = false;
            c.write(0, 0x100, 4, 4);
            assertThat(c.read(0, 0x118, 8)).isZero();
        }
    }

    @Test
    void aTransferMaySpanAnFdMappingAndAMessageMapping() throws Exception {
        try (TestClient c = client(); Fd memfd = MemFd.create("guest", 4096)) {
            busMaster(c);
            long base = c.memoryBase;
            MappedMemory guest = MappedMemory.map(memfd, 0, 4096, true);
            try {
                assertThat(c.dmaMap(RW, 0, base - 4096, 4096, memfd.value())).isZero();
                assertThat(c.dmaMap(RW, 0, base, c.memory.length)).isZero();
                guest.view().put(4095, (byte) 1);
                c.memory[0] = 2;
                c.write(0, 0x108, 8, base - 1);
                c.write(0, 0x100, 4, 2);
                assertThat(c.read(0, 0x118, 8)).isZero();
                assertThat(test.buffer[0]).isEqualTo((byte) 1);
                assertThat(test.buffer[1]).isEqualTo((byte) 2);
            } finally {
                guest.unmap();
            }
        }
    }

    @Test
    void aClientThatShrinksTheFileBehindAMappingCannotCrashTheServer(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        Path file = tmp.resolve("guest.ram");
        Files.write(file, new byte[65536]);
        try (TestClient c = client(); Fd fd = Fd.open(file.toString(), Fd.O_RDWR)) {
            busMaster(c);
            assertThat(c.dmaMap(RW, 0, IOVA, 65536, fd.value())).isZero();
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(0);
            }
            assertThatThrownBy(() -> test.device.dma().read(IOVA + 8192, ByteBuffer.allocateDirect(4096)))
                    .isInstanceOfSatisfying(DmaException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EFAULT));
            // a write through pwrite simply grows the file again
            test.device.dma().write(IOVA, ByteBuffer.wrap(new byte[] {1, 2, 3}));
            assertThat(Files.size(file)).isEqualTo(3);
            assertThat(c.read(7, 0, 2)).as("still serving").isEqualTo(0x1af4);
        }
    }

    private static int unmap(TestClient c, int flags, long address, long size) throws Exception {
        return c.errnoOf(Command.DMA_UNMAP, new DmaUnmap(flags, address, size).encode());
    }

    /** A pipe's two descriptors, through /proc of a child-free trick: a FIFO opened non-blocking. */
    private int[] pipeFds() throws Exception {
        Path fifo = dir.resolve("fifo");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertThat(p.waitFor()).isZero();
        Fd r = Fd.open(fifo.toString(), Fd.O_RDONLY | Fd.O_NONBLOCK);
        return new int[] {r.value()};
    }

    private static void closeRaw(int[] fds) {
        for (int fd : fds) {
            Fd.adopt(fd, "pipe").close();
        }
    }
}
