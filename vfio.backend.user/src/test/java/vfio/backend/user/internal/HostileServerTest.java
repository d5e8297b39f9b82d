package vfio.backend.user.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vfio.backend.user.internal.FakeServer.le;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import vfio.api.backend.OpenRequest;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceException;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.RegionInfo;
import vfio.backend.user.internal.device.VfioUserDevice;
import vfio.posix.Errno;
import vfio.posix.EventFd;
import vfio.user.protocol.Command;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.protocol.RegionAccess;

/**
 * The client against servers that misbehave: every violation ends in a clear error, a closed
 * connection and no leaked descriptor, never a hang or a crash.
 */
@Timeout(30)
class HostileServerTest {
    private static final long TRIGGER = 0x666;

    @TempDir
    Path dir;
    private FakeDevice device;
    private FakeServer server;
    private final List<VfioUserDevice> opened = new ArrayList<>();
    private java.util.Map<String, Integer> fdsBefore;

    @BeforeEach
    void warmUpAndCount() throws Exception {
        // The first connection loads native code and JDK internals that keep descriptors open (so does the
        // first FileChannel: the JDK's pre-close socket); count after them.
        java.nio.file.Files.writeString(dir.resolve("warm.txt"), "warm");
        FakeDevice warmDevice = new FakeDevice();
        try (FakeServer warm = FakeServer.start(dir.resolve("warm.sock"), warmDevice)) {
            VfioUserDevice d = Fixture.open(warm);
            d.regionRead(1, 0, ByteBuffer.allocate(4));
            d.close();
        } finally {
            warmDevice.release();
        }
        fdsBefore = Fixture.kinds();
        device = new FakeDevice();
    }

    @AfterEach
    void noLeaks() throws Exception {
        opened.forEach(VfioUserDevice::close);
        if (server != null) {
            server.close();
        }
        device.release();
        assertThat(Fixture.awaitKinds(fdsBefore)).isEqualTo(fdsBefore);
    }

    /** Serves like the fake device, except that requests matching {@code when} get {@code hostile}. */
    private VfioUserDevice openWith(Predicate<Message> when, FakeServer.Responder hostile, Duration timeout)
            throws Exception {
        server = FakeServer.start(dir.resolve("hostile.sock"), (peer, m) -> {
            if (when.test(m)) {
                hostile.respond(peer, m);
            } else {
                device.respond(peer, m);
            }
        });
        VfioUserDevice d = Fixture.open(server, timeout);
        opened.add(d);
        return d;
    }

    private VfioUserDevice openWith(Predicate<Message> when, FakeServer.Responder hostile) throws Exception {
        return openWith(when, hostile, Duration.ofSeconds(5));
    }

    private static Predicate<Message> readOf(long offset) {
        return m -> m.header().commandOrNull() == Command.REGION_READ && m.body().getLong(0) == offset;
    }

    private static Predicate<Message> is(Command c) {
        return m -> m.header().commandOrNull() == c;
    }

    private static int read32(VfioUserDevice d, long offset) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        d.regionRead(1, offset, b);
        return b.getInt(0);
    }

    /** Every later call fails at once with the same reason. */
    private static void assertFailedWith(VfioUserDevice d, String reason) {
        assertThat(d.failureReason()).contains(reason);
        assertThatThrownBy(() -> read32(d, 0)).isInstanceOf(DeviceUnavailableException.class).hasMessageContaining(reason);
    }

    @Test
    void aReplyAnnouncingMoreThanTheLimitFailsTheConnection() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            ByteBuffer h = le(16);
            new Header(m.header().id(), m.header().command(), 64 << 20, Header.TYPE_REPLY, 0).encode(h);
            peer.raw(h.flip());
        });
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("broke the vfio-user protocol").hasMessageContaining("message size 67108864");
        assertFailedWith(d, "message size 67108864");
    }

    @Test
    void aReplyShorterThanItsFixedPartIsRejected() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> peer.reply(m, le(3)));
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("malformed REGION_READ");
        assertFailedWith(d, "malformed REGION_READ");
    }

    @Test
    void aReadReplyWithMoreDataThanAskedForIsRejected() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            ByteBuffer r = le(16 + 8);
            new RegionAccess(TRIGGER, 1, 8).encode(r);
            peer.reply(m, r.putLong(16, -1).position(0));
        });
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("the reply to a read of 4 bytes");
    }

    @Test
    void aReplyWithAnIdNobodyUsedFailsTheConnection() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> peer.send(
                new Header(m.header().id() ^ 0x5555, m.header().command(), 16 + 20, Header.TYPE_REPLY, 0), le(20)));
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("answers no outstanding request");
        assertFailedWith(d, "answers no outstanding request");
    }

    @Test
    void aReplyForAnotherCommandFailsTheConnection() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> peer.send(
                new Header(m.header().id(), Command.REGION_WRITE.code(), 16 + 16, Header.TYPE_REPLY, 0), le(16)));
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("REGION_WRITE").hasMessageContaining("answers no outstanding request");
    }

    @Test
    void unexpectedDescriptorsOnAReplyAreClosedAndTheValueStillArrives() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            ByteBuffer r = le(20);
            new RegionAccess(TRIGGER, 1, 4).encode(r);
            r.putInt(16, 0x600d);
            try (EventFd stray = EventFd.create(); EventFd stray2 = EventFd.create()) {
                peer.reply(m, r.position(0), stray.fd().value(), stray2.fd().value());
            }
        });
        java.util.Map<String, Integer> before = Fixture.kinds();
        assertThat(read32(d, TRIGGER)).isEqualTo(0x600d);
        assertThat(d.failureReason()).isNull();
        // The client closed the strays; the server closes its own copies right after sending them.
        assertThat(Fixture.awaitKinds(before)).isEqualTo(before);
    }

    @Test
    void moreDescriptorsThanProposedFailTheConnectionAndAreClosed() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            List<EventFd> many = new ArrayList<>();
            try {
                int[] fds = new int[17];
                for (int i = 0; i < fds.length; i++) {
                    EventFd e = EventFd.create();
                    many.add(e);
                    fds[i] = e.fd().value();
                }
                ByteBuffer r = le(20);
                new RegionAccess(TRIGGER, 1, 4).encode(r);
                peer.reply(m, r.position(0), fds);
            } finally {
                many.forEach(EventFd::close);
            }
        });
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("file descriptors");
    }

    @Test
    void aMappableRegionWhoseDescriptorIsMissingIsNotMapped() throws Exception {
        VfioUserDevice d = openWith(is(Command.DEVICE_GET_REGION_INFO), (peer, m) -> {
            int argsz = m.body().getInt(0);
            ByteBuffer r = le(512);
            int n = vfio.api.backend.VfioStructs.encodeRegionInfo(FakeDevice.bar0Info(), r, argsz);
            peer.reply(m, r.flip().limit(n)); // FLAG_MMAP, but no descriptor
        });
        RegionInfo info = d.regionInfo(0);
        assertThat(info.has(RegionInfo.FLAG_MMAP)).isTrue();
        assertThat(d.regionMap(info, info.sparseAreas().orElseThrow())).isEmpty();
        assertThat(d.failureReason()).isNull();
    }

    /** Answers region 0's info with {@code fd} as its file. */
    private static FakeServer.Responder regionInfoWith(vfio.posix.Fd fd) {
        return (peer, m) -> {
            int argsz = m.body().getInt(0);
            ByteBuffer r = le(512);
            RegionInfo info = FakeDevice.bar0Info();
            int n = vfio.api.backend.VfioStructs.encodeRegionInfo(info, r, argsz);
            if (argsz >= vfio.api.backend.VfioStructs.regionInfoSize(info)) {
                peer.reply(m, r.flip().limit(n), fd.value());
            } else {
                peer.reply(m, r.flip().limit(n));
            }
        };
    }

    @Test
    void aRegionFileThatIsNotSealedAgainstShrinkingIsNotMappedUnlessConfigured() throws Exception {
        try (vfio.posix.Fd unsealed = vfio.posix.MemFd.create("unsealed", 0x5000)) {
            VfioUserDevice d = openWith(is(Command.DEVICE_GET_REGION_INFO), regionInfoWith(unsealed));
            RegionInfo info = d.regionInfo(0);
            assertThat(d.regionMap(info, info.sparseAreas().orElseThrow())).isEmpty();
            assertThat(d.failureReason()).isNull();
            VfioUserBackendFactory trusting = new VfioUserBackendFactory(Duration.ofMillis(500), List.of(), 1 << 20,
                    true, true);
            d.close();
            try (VfioUserDevice t = (VfioUserDevice) trusting.open(OpenRequest.of("trusting", server.address()))) {
                List<vfio.api.backend.MappedArea> areas = t.regionMap(t.regionInfo(0),
                        info.sparseAreas().orElseThrow());
                assertThat(areas).hasSize(2);
                t.regionUnmap(0, areas);
                for (vfio.api.backend.MappedArea a : areas) {
                    vfio.posix.MappedMemory.adopt(a.address(), a.size()).unmap();
                }
            }
        }
    }

    @Test
    void areasPastTheEndOfTheRegionFileAreLeftOut() throws Exception {
        // BAR0's areas end at file offset 0x1000 + 0x4000; this file has only 0x2000 bytes.
        try (vfio.posix.Fd small = vfio.posix.MemFdSeals.createSealed("small", 0x2000)) {
            VfioUserDevice d = openWith(is(Command.DEVICE_GET_REGION_INFO), regionInfoWith(small));
            RegionInfo info = d.regionInfo(0);
            List<vfio.api.backend.MappedArea> areas = d.regionMap(info, info.sparseAreas().orElseThrow());
            assertThat(areas).extracting(vfio.api.backend.MappedArea::offset).containsExactly(0L);
            d.regionUnmap(0, areas);
            vfio.posix.MappedMemory.adopt(areas.get(0).address(), areas.get(0).size()).unmap();
        }
    }

    @Test
    void aServerThatNeverAnswersTimesOutAndLaterCallsFailFast() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            // swallow the request
        }, Duration.ofMillis(300));
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("did not answer REGION_READ within 300 ms");
        assertFailedWith(d, "did not answer REGION_READ within 300 ms");
    }

    @Test
    void manyWaitersAllFailWhenTheServerStopsAnswering() throws Exception {
        VfioUserDevice d = openWith(m -> m.header().commandOrNull() == Command.REGION_READ, (peer, m) -> {
        }, Duration.ofMillis(300));
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Thread t = new Thread(() -> {
                try {
                    read32(d, 0);
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join(10_000);
        }
        assertThat(failures).hasSize(4).allMatch(e -> e instanceof DeviceUnavailableException
                && e.getMessage().contains("did not answer REGION_READ within 300 ms"));
    }

    @Test
    void aServerThatStopsReadingCannotBlockPostedWritesForever() throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        VfioUserDevice d = openWith(m -> m.header().commandOrNull() == Command.REGION_WRITE && m.header().noReply(),
                (peer, m) -> release.await(20, java.util.concurrent.TimeUnit.SECONDS), Duration.ofMillis(300));
        try {
            // The server sits on the first posted write and reads nothing more: the socket fills up.
            assertThatThrownBy(() -> {
                for (int i = 0; i < 100_000; i++) {
                    d.regionWrite(1, 0, ByteBuffer.allocate(1024), true);
                }
            }).isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("did not take a posted write within 300 ms");
        } finally {
            release.countDown();
        }
    }

    @Test
    void aServerThatAnswersPostedWritesAnywayIsTolerated() throws Exception {
        VfioUserDevice d = openWith(m -> m.header().commandOrNull() == Command.REGION_WRITE && m.header().noReply(),
                (peer, m) -> {
                    device.respond(peer, m);
                    if (m.body().getLong(0) == 8) {
                        peer.error(m, Errno.EIO);
                    } else {
                        ByteBuffer r = le(16);
                        RegionAccess.decode(m.body(), 1 << 20, "w").encode(r);
                        peer.reply(m, r.flip());
                    }
                });
        d.regionWrite(1, 0, ByteBuffer.allocate(4).putInt(0, 5), true);
        d.regionWrite(1, 8, ByteBuffer.allocate(4).putInt(0, 6), true);
        assertThat(read32(d, 8)).isEqualTo(Integer.reverseBytes(6));
        assertThat(d.failureReason()).isNull();
    }

    @Test
    void aPeerClosingMidMessageFailsTheConnection() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            ByteBuffer r = le(16 + 5);
            new Header(m.header().id(), m.header().command(), 16 + 20, Header.TYPE_REPLY, 0).encode(r);
            peer.raw(r.position(0));
            peer.close();
        });
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("closed the connection after 5 of 20 body bytes");
    }

    @Test
    void aPeerClosingBetweenMessagesIsReportedAsClosed() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> peer.close());
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageEndingWith("closed the connection");
        assertFailedWith(d, "closed the connection");
    }

    @Test
    void aSlowlorisReplyIsCutOffAfterTheTimeout() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            ByteBuffer r = le(16 + 20);
            new Header(m.header().id(), m.header().command(), 16 + 20, Header.TYPE_REPLY, 0).encode(r);
            new RegionAccess(TRIGGER, 1, 4).encode(r);
            r.flip();
            try {
                while (r.hasRemaining()) {
                    peer.raw(ByteBuffer.wrap(new byte[] {r.get()}));
                    Thread.sleep(100);
                }
            } catch (java.io.IOException gone) {
                peer.close(); // the client gave up: expected
            }
        }, Duration.ofMillis(300));
        // The request's deadline and the stalled message's run out at about the same time: either
        // reason is right, as long as the call ends.
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageMatching(".*(did not answer REGION_READ within 300 ms|stopped sending in the middle).*");
    }

    @Test
    void aSlowlorisCommandWhileTheClientIsIdleIsCutOffAfterTheTimeout() throws Exception {
        VfioUserDevice d = openWith(m -> m.header().commandOrNull() == Command.REGION_WRITE, (peer, m) -> {
            device.respond(peer, m);
            ByteBuffer r = le(16 + 16 + 4);
            new Header(1, Command.DMA_WRITE.code(), 16 + 20, Header.TYPE_COMMAND, 0).encode(r);
            r.putLong(16, 0x100000).putLong(24, 4).position(0);
            try {
                while (r.hasRemaining()) {
                    peer.raw(ByteBuffer.wrap(new byte[] {r.get()}));
                    Thread.sleep(100);
                }
            } catch (java.io.IOException gone) {
                peer.close(); // the client gave up: expected
            }
        }, Duration.ofMillis(300));
        d.regionWrite(1, 0, ByteBuffer.allocate(4), false);
        // Nobody waits for a reply: the background reader meets the trickle.
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (d.failureReason() == null && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertFailedWith(d, "stopped sending in the middle");
    }

    @Test
    void aCapabilityChainThatLoopsIsRejected() throws Exception {
        VfioUserDevice d = openWith(is(Command.DEVICE_GET_REGION_INFO), (peer, m) -> {
            int argsz = m.body().getInt(0);
            ByteBuffer r = le(48);
            r.putInt(48).putInt(RegionInfo.FLAG_READ | RegionInfo.FLAG_CAPS).putInt(0).putInt(32).putLong(4096).putLong(0);
            r.putShort((short) 1).putShort((short) 1).putInt(32); // next points at itself
            r.putInt(0).putInt(0);
            peer.reply(m, r.flip().limit(Math.min(48, argsz)));
        });
        assertThatThrownBy(() -> d.regionInfo(0)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("EPROTO").hasMessageContaining("capability");
        assertFailedWith(d, "capability");
    }

    @Test
    void aSparseCapabilityClaimingMoreAreasThanItHoldsIsRejected() throws Exception {
        VfioUserDevice d = openWith(is(Command.DEVICE_GET_REGION_INFO), (peer, m) -> {
            int argsz = m.body().getInt(0);
            ByteBuffer r = le(64);
            r.putInt(64).putInt(RegionInfo.FLAG_READ | RegionInfo.FLAG_MMAP | RegionInfo.FLAG_CAPS).putInt(0).putInt(32)
                    .putLong(4096).putLong(0);
            r.putShort((short) 1).putShort((short) 1).putInt(0).putInt(1000).putInt(0).putLong(0).putLong(4096);
            peer.reply(m, r.flip().limit(Math.min(64, argsz)));
        });
        assertThatThrownBy(() -> d.regionInfo(0)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("claims 1000 areas");
    }

    @Test
    void regionInfoThatKeepsGrowingIsRejected() throws Exception {
        VfioUserDevice d = openWith(is(Command.DEVICE_GET_REGION_INFO), (peer, m) -> {
            int argsz = m.body().getInt(0);
            ByteBuffer r = le(32);
            r.putInt(argsz + 64).putInt(RegionInfo.FLAG_READ).putInt(0).putInt(0).putLong(4096).putLong(0);
            peer.reply(m, r.flip());
        });
        assertThatThrownBy(() -> d.regionInfo(0)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("needs 160 bytes after it was given 96");
    }

    @Test
    void regionInfoLongerThanAskedForIsRejected() throws Exception {
        VfioUserDevice d = openWith(is(Command.DEVICE_GET_REGION_INFO), (peer, m) -> {
            ByteBuffer r = le(64);
            r.putInt(64).putInt(RegionInfo.FLAG_READ).putInt(0).putInt(0).putLong(4096).putLong(0);
            peer.reply(m, r.position(0));
        });
        assertThatThrownBy(() -> d.regionInfo(0)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("a 64-byte region info for region 0 when at most 32 bytes were asked for");
    }

    @Test
    void absurdRegionCountsRefuseTheOpenWithoutLeaking() throws Exception {
        server = FakeServer.start(dir.resolve("absurd.sock"), (peer, m) -> {
            if (m.header().commandOrNull() == Command.DEVICE_GET_INFO) {
                ByteBuffer r = le(16).putInt(16).putInt(3).putInt(100_000).putInt(5);
                peer.reply(m, r.flip());
            } else {
                device.respond(peer, m);
            }
        });
        assertThatThrownBy(() -> Fixture.open(server)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("absurd device info: 100000 regions");
    }

    @Test
    void absurdIrqCountsAreRejected() throws Exception {
        VfioUserDevice d = openWith(is(Command.DEVICE_GET_IRQ_INFO), (peer, m) -> {
            ByteBuffer r = le(16).putInt(16).putInt(1).putInt(m.body().getInt(8)).putInt(1 << 30);
            peer.reply(m, r.flip());
        });
        assertThatThrownBy(() -> d.irqInfo(2)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("absurd IRQ count");
    }

    @Test
    void irqInfoForAnotherIndexIsRejected() throws Exception {
        VfioUserDevice d = openWith(is(Command.DEVICE_GET_IRQ_INFO), (peer, m) -> {
            ByteBuffer r = le(16).putInt(16).putInt(1).putInt(4).putInt(1);
            peer.reply(m, r.flip());
        });
        assertThatThrownBy(() -> d.irqInfo(2)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("IRQ info for index 4 when 2 was asked for");
    }

    /** What the client answered to each DMA command the hostile server sent. */
    private record DmaResult(String what, Header reply, byte[] data) {
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "twin socket: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void dmaOutsideMappedMemoryIsRefusedWhileAClientRequestWaitsAndMemoryIsUntouched(boolean twin) throws Exception {
        device.offerTwin = twin;
        List<DmaResult> results = new CopyOnWriteArrayList<>();
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            long base = 0x100000;
            dma(peer, results, "read inside", Command.DMA_READ, base + 0xff0, 16, null);
            dma(peer, results, "read over the end", Command.DMA_READ, base + 0xff0, 0x20, null);
            dma(peer, results, "read before the start", Command.DMA_READ, base - 8, 16, null);
            dma(peer, results, "read at -8", Command.DMA_READ, -8, 16, null);
            dma(peer, results, "read of 2^63 bytes", Command.DMA_READ, base, Long.MIN_VALUE, null);
            dma(peer, results, "read beyond max_data_xfer_size", Command.DMA_READ, base, (1 << 20) + 1, null);
            dma(peer, results, "write over the end", Command.DMA_WRITE, base + 0xff8, 16, new byte[16]);
            dma(peer, results, "write with a short body", Command.DMA_WRITE, base, 16, new byte[8]);
            dma(peer, results, "write into read-only memory", Command.DMA_WRITE, 0x300000, 4, new byte[4]);
            dma(peer, results, "write inside", Command.DMA_WRITE, base + 0x10, 4, new byte[] {1, 2, 3, 4});
            ByteBuffer r = le(20);
            new RegionAccess(TRIGGER, 1, 4).encode(r);
            peer.reply(m, r.position(0));
        });
        try (TestDmaMemory mem = TestDmaMemory.create(0x1000, false);
                TestDmaMemory readOnly = TestDmaMemory.create(0x1000, false)) {
            ByteBuffer view = mem.memory();
            for (int i = 0; i < 0x1000; i++) {
                view.put(i, (byte) 0x5a);
            }
            assertThat(d.twinSocket()).isEqualTo(twin);
            d.dmaMap(mem, 0x100000, true, true);
            d.dmaMap(readOnly, 0x300000, true, false);
            read32(d, TRIGGER);
            assertThat(results).extracting(DmaResult::what, r -> r.reply().isError() ? Errno.name(r.reply().error()) : "ok")
                    .containsExactly(
                            org.assertj.core.groups.Tuple.tuple("read inside", "ok"),
                            org.assertj.core.groups.Tuple.tuple("read over the end", "EFAULT"),
                            org.assertj.core.groups.Tuple.tuple("read before the start", "EFAULT"),
                            org.assertj.core.groups.Tuple.tuple("read at -8", "EFAULT"),
                            org.assertj.core.groups.Tuple.tuple("read of 2^63 bytes", "EINVAL"),
                            org.assertj.core.groups.Tuple.tuple("read beyond max_data_xfer_size", "EINVAL"),
                            org.assertj.core.groups.Tuple.tuple("write over the end", "EFAULT"),
                            org.assertj.core.groups.Tuple.tuple("write with a short body", "EINVAL"),
                            org.assertj.core.groups.Tuple.tuple("write into read-only memory", "EFAULT"),
                            org.assertj.core.groups.Tuple.tuple("write inside", "ok"));
            assertThat(results.get(0).data()).hasSize(16 + 16).endsWith(new byte[] {0x5a, 0x5a, 0x5a, 0x5a});
            for (int i = 0; i < 0x1000; i++) {
                byte expected = i >= 0x10 && i < 0x14 ? (byte) (i - 0x10 + 1) : 0x5a;
                assertThat(view.get(i)).as("byte 0x%x", i).isEqualTo(expected);
            }
            for (int i = 0; i < 0x1000; i++) {
                assertThat(readOnly.memory().get(i)).isZero();
            }
            assertThat(d.failureReason()).isNull();
            d.dmaUnmap(0x100000, 0x1000);
            d.dmaUnmap(0x300000, 0x1000);
        }
    }

    private static void dma(FakeServer.Peer peer, List<DmaResult> results, String what, Command c, long address,
            long count, byte[] data) throws Exception {
        ByteBuffer b = le(16 + (data == null ? 0 : data.length)).putLong(address).putLong(count);
        if (data != null) {
            b.put(data);
        }
        try (Message reply = peer.command(c, b.flip())) {
            ByteBuffer body = reply.body();
            byte[] bytes = new byte[body.remaining()];
            body.get(bytes);
            results.add(new DmaResult(what, reply.header(), bytes));
        }
    }

    @Test
    void aServerCommandOfAnotherKindIsRefusedAndTheConnectionGoesOn() throws Exception {
        List<Header> answers = new CopyOnWriteArrayList<>();
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> {
            try (Message reply = peer.command(Command.REGION_READ, le(16).putLong(0).putInt(1).putInt(4).flip())) {
                answers.add(reply.header());
            }
            device.respond(peer, m);
        });
        read32(d, TRIGGER);
        assertThat(answers).singleElement().satisfies(h -> {
            assertThat(h.isError()).isTrue();
            assertThat(h.error()).isEqualTo(Errno.EINVAL);
        });
        assertThat(d.failureReason()).isNull();
    }

    @Test
    void anErrorReplyWithABodyIsAnErrorAndTheConnectionGoesOn() throws Exception {
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> peer.send(
                new Header(m.header().id(), m.header().command(), 16 + 16, Header.TYPE_REPLY | Header.ERROR, Errno.EIO),
                m.body()));
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(BackendException.class)
                .hasMessageContaining("REGION_READ failed with EIO")
                .satisfies(e -> assertThat(((BackendException) e).errno()).isEqualTo(Errno.EIO));
        assertThat(read32(d, 0)).isZero();
    }

    @Test
    void aServerOfAnotherMajorVersionIsRefused() throws Exception {
        server = FakeServer.start(dir.resolve("v2.sock"), (peer, m) -> {
            ByteBuffer r = le(4).putShort((short) 1).putShort((short) 0);
            peer.reply(m, r.flip());
        });
        assertThatThrownBy(() -> Fixture.open(server)).isInstanceOf(DeviceException.class)
                .hasMessageContaining("speaks vfio-user protocol version 1.0");
    }

    @Test
    void aVersionRefusalIsABackendException() throws Exception {
        server = FakeServer.start(dir.resolve("no.sock"), (peer, m) -> peer.error(m, Errno.EOPNOTSUPP));
        assertThatThrownBy(() -> Fixture.open(server)).isInstanceOf(BackendException.class)
                .hasMessageContaining("VERSION failed with EOPNOTSUPP");
    }

    @Test
    void capabilitiesOfTheWrongTypeFailTheOpen() throws Exception {
        device.versionJson = "{\"capabilities\":{\"max_msg_fds\":\"many\"}}";
        server = FakeServer.start(dir.resolve("caps.sock"), device);
        assertThatThrownBy(() -> Fixture.open(server)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("malformed VERSION reply").hasMessageContaining("max_msg_fds");
    }

    @Test
    void aFirstReplyOfAnotherCommandFailsTheOpen() throws Exception {
        server = FakeServer.start(dir.resolve("first.sock"), (peer, m) -> peer.send(
                new Header(m.header().id(), Command.DEVICE_GET_INFO.code(), 16, Header.TYPE_REPLY, 0), null));
        assertThatThrownBy(() -> Fixture.open(server)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("answers no outstanding request");
    }

    @Test
    void twinSocketModeWithoutItsDescriptorFailsTheOpen() throws Exception {
        device.versionJson = "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":0}}}";
        server = FakeServer.start(dir.resolve("twin0.sock"), device);
        assertThatThrownBy(() -> Fixture.open(server)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("chose twin-socket mode but its VERSION reply carries 0 descriptor(s)");
    }

    @Test
    void aTwinSocketThatIsNoSocketFailsTheOpen() throws Exception {
        server = FakeServer.start(dir.resolve("twinfd.sock"), (peer, m) -> {
            if (m.header().commandOrNull() != Command.VERSION) {
                device.respond(peer, m);
                return;
            }
            byte[] json = "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":0}}}"
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            ByteBuffer r = le(4 + json.length + 1).putShort((short) 0).putShort((short) 1).put(json).put((byte) 0);
            try (EventFd notASocket = EventFd.create()) {
                peer.reply(m, r.flip(), notASocket.fd().value());
            }
        });
        assertThatThrownBy(() -> Fixture.open(server)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("twin socket that is not a socket");
    }

    @Test
    void aReplyOnTheTwinSocketFailsTheConnection() throws Exception {
        device.offerTwin = true;
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> peer.twin().send(
                new Header(7, Command.DMA_READ.code(), 16, Header.TYPE_REPLY, 0), null, new int[0]));
        assertThat(d.twinSocket()).isTrue();
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("on the twin socket, which carries only its commands");
    }

    @Test
    void aServerClosingItsTwinSocketFailsTheConnection() throws Exception {
        device.offerTwin = true;
        VfioUserDevice d = openWith(readOf(TRIGGER), (peer, m) -> peer.twin().close());
        assertThatThrownBy(() -> read32(d, TRIGGER)).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("closed the connection (its twin socket)");
    }

    @Test
    void openingAFileThatIsNotASocketNeverConnects() throws Exception {
        Path file = dir.resolve("plain");
        java.nio.file.Files.writeString(file, "not a socket");
        assertThatThrownBy(() -> Fixture.factory().open(OpenRequest.of("x", "vfio-user:" + file)))
                .isInstanceOf(DeviceException.class).hasMessageContaining("is not a socket");
    }
}
