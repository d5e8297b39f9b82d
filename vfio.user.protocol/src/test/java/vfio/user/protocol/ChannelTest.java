package vfio.user.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import vfio.posix.EventFd;
import vfio.posix.Fd;
import vfio.posix.UnixSocket;

class ChannelTest {
    private UnixSocket raw;
    private Channel a;
    private Channel b;

    @BeforeEach
    void connect() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        a = new Channel(pair[0], "a");
        UnixSocket[] pair2 = UnixSocket.pair();
        b = new Channel(pair[1], "b");
        raw = pair2[0];
        pair2[1].close();
    }

    @AfterEach
    void close() {
        a.close();
        b.close();
        raw.close();
    }

    @Test
    void aMessageWithBodyAndDescriptorsArrivesWhole() throws Exception {
        try (EventFd ev = EventFd.create()) {
            ByteBuffer body = ByteBuffer.allocate(RegionAccess.SIZE);
            new RegionAccess(0x10, 2, 4).encode(body);
            a.send(Header.command(7, Command.REGION_READ, RegionAccess.SIZE, false), body.flip(), new int[] {ev.fd().value()});
            try (Message m = b.receive(1000, 1000, 4096, 1)) {
                assertThat(m.header().id()).isEqualTo(7);
                assertThat(m.header().commandOrNull()).isEqualTo(Command.REGION_READ);
                assertThat(RegionAccess.decode(m.body(), 8, "t")).isEqualTo(new RegionAccess(0x10, 2, 4));
                List<Fd> fds = m.takeFds();
                assertThat(fds).hasSize(1);
                fds.forEach(Fd::close);
            }
        }
    }

    @Test
    void largeBodiesAreFramedToo() throws Exception {
        byte[] data = new byte[100_000];
        data[99_999] = 42;
        Thread sender = new Thread(() -> {
            try {
                a.send(Header.command(1, Command.REGION_WRITE, data.length, false), ByteBuffer.wrap(data), new int[0]);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        sender.start();
        try (Message m = b.receive(2000, 2000, 1 << 20, 0)) {
            assertThat(m.body().remaining()).isEqualTo(100_000);
            assertThat(m.body().get(99_999)).isEqualTo((byte) 42);
        }
        sender.join();
    }

    @Test
    void anOversizedHeaderIsAProtocolError() throws Exception {
        a.send(new Header(1, 9, 16 + 5000, 0, 0), ByteBuffer.allocate(5000), new int[0]);
        assertThatThrownBy(() -> b.receive(1000, 1000, 4096, 0)).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("outside [16, 4096]");
    }

    @Test
    void aPeerThatStopsMidMessageIsCutOffAfterTheMessageTimeout() throws Exception {
        ByteBuffer partial = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        new Header(1, 9, 16 + 16, 0, 0).encode(partial);
        partial.putInt(1).flip();
        // Bypass Channel.send: write a truncated message on the raw socket underneath `a`.
        sendRaw(partial);
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> b.receive(1000, 200, 4096, 0)).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("stopped sending");
        assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(5000);
    }

    @Test
    void descriptorsBeyondTheLimitAreRefusedAndNotLeaked() throws Exception {
        try (EventFd e1 = EventFd.create(); EventFd e2 = EventFd.create()) {
            a.send(Header.command(1, Command.DEVICE_RESET, 0, false), null, new int[] {e1.fd().value(), e2.fd().value()});
            assertThatThrownBy(() -> b.receive(1000, 1000, 4096, 1)).isInstanceOf(ProtocolException.class)
                    .hasMessageContaining("file descriptors");
        }
    }

    @Test
    void idleTimeoutReturnsNullAndACleanCloseIsEof() throws Exception {
        assertThat(b.receive(10, 10, 4096, 0)).isNull();
        a.close();
        assertThatThrownBy(() -> b.receive(1000, 1000, 4096, 0)).isInstanceOf(EOFException.class);
    }

    @Test
    void messagesThatArriveTogetherAreFramedOneByOneAndEachKeepsItsOwnDescriptors() throws Exception {
        // Sent before anything is read, so one read may bring several: framing and descriptor
        // ownership must not depend on how the kernel splits the stream.
        try (EventFd e1 = EventFd.create(); EventFd e2 = EventFd.create()) {
            e1.signal();
            e2.signal();
            e2.signal();
            a.send(Header.command(1, Command.DEVICE_RESET, 0, false), null, new int[0]);
            a.send(Header.command(2, Command.DEVICE_RESET, 0, false), null, new int[] {e1.fd().value()});
            a.send(Header.command(3, Command.DEVICE_RESET, 0, false), null, new int[0]);
            a.send(Header.command(4, Command.DEVICE_RESET, 0, false), null, new int[] {e2.fd().value()});
            a.send(Header.command(5, Command.DEVICE_RESET, 0, false), null, new int[] {e1.fd().value()});
            long[] counters = new long[6];
            for (int id = 1; id <= 5; id++) {
                try (Message m = b.receive(1000, 1000, 4096, 1)) {
                    assertThat(m.header().id()).isEqualTo(id);
                    assertThat(m.fdCount()).as("descriptors of message %d", id).isEqualTo(id % 2 == 0 || id == 5 ? 1 : 0);
                    for (Fd fd : m.takeFds()) {
                        try (EventFd got = EventFd.adopt(fd)) {
                            counters[id] = got.drain(); // the same eventfd: its counter tells which one
                        }
                    }
                }
            }
            assertThat(counters[2]).isEqualTo(1);
            assertThat(counters[4]).isEqualTo(2);
            assertThat(counters[5]).isZero(); // e1 again, already drained through message 2
        }
    }

    @Test
    void randomStreamsOfMessagesKeepTheirBodiesAndDescriptors() throws Exception {
        // 600 messages of random sizes (0 to 40 KiB, across the 16 KiB inbox) with 0 to 3
        // descriptors, sent by another thread while this one reads: every body byte and every
        // descriptor must arrive with its own message, however the kernel splits the stream.
        java.util.Random random = new java.util.Random(20261124);
        int count = 600;
        int[] sizes = new int[count];
        int[] fdCounts = new int[count];
        for (int i = 0; i < count; i++) {
            sizes[i] = random.nextInt(8) == 0 ? random.nextInt(40_000) : random.nextInt(64);
            fdCounts[i] = random.nextInt(4) == 0 ? 1 + random.nextInt(3) : 0;
        }
        java.util.concurrent.atomic.AtomicReference<Throwable> sendFailure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread sender = new Thread(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    ByteBuffer body = ByteBuffer.allocate(sizes[i]);
                    for (int k = 0; k < sizes[i]; k++) {
                        body.put((byte) (i * 31 + k));
                    }
                    EventFd[] evs = new EventFd[fdCounts[i]];
                    int[] fds = new int[evs.length];
                    for (int k = 0; k < evs.length; k++) {
                        evs[k] = EventFd.create();
                        for (int n = 0; n <= i % 5 + k; n++) {
                            evs[k].signal(); // counter = i % 5 + k + 1 identifies it
                        }
                        fds[k] = evs[k].fd().value();
                    }
                    a.send(Header.command(i, Command.REGION_WRITE, sizes[i], false), body.flip(), fds);
                    for (EventFd e : evs) {
                        e.close(); // the receiver holds its own duplicate
                    }
                }
            } catch (Throwable t) {
                sendFailure.set(t);
            }
        }, "sender");
        long before = openDescriptors();
        sender.start();
        for (int i = 0; i < count; i++) {
            try (Message m = b.receive(5000, 5000, 1 << 20, 3)) {
                assertThat(m.header().id()).isEqualTo(i);
                ByteBuffer body = m.body();
                assertThat(body.remaining()).as("body size of message %d", i).isEqualTo(sizes[i]);
                for (int k = 0; k < sizes[i]; k++) {
                    if (body.get(k) != (byte) (i * 31 + k)) {
                        throw new AssertionError("message " + i + " byte " + k);
                    }
                }
                List<Fd> fds = m.takeFds();
                assertThat(fds).as("descriptors of message %d", i).hasSize(fdCounts[i]);
                for (int k = 0; k < fds.size(); k++) {
                    try (EventFd got = EventFd.adopt(fds.get(k))) {
                        assertThat(got.drain()).as("descriptor %d of message %d", k, i).isEqualTo(i % 5 + k + 1);
                    }
                }
            }
        }
        sender.join(10_000);
        assertThat(sendFailure.get()).isNull();
        assertThat(openDescriptors()).isEqualTo(before);
    }

    @Test
    void descriptorsOfAMessageNotYetReceivedAreClosedWithTheChannel() throws Exception {
        long before = openDescriptors();
        try (EventFd e1 = EventFd.create()) {
            a.send(Header.command(1, Command.DEVICE_RESET, 0, false), null, new int[0]);
            a.send(Header.command(2, Command.DEVICE_RESET, 0, false), null, new int[] {e1.fd().value()});
            Thread.sleep(50); // both are queued, so the first read may take message 2 and its descriptor too
            try (Message m = b.receive(1000, 1000, 4096, 1)) {
                assertThat(m.header().id()).isEqualTo(1);
                assertThat(m.fdCount()).isZero();
            }
            b.close();
        }
        assertThat(openDescriptors()).isEqualTo(before - 1); // b's socket is gone, and nothing else
    }

    private static long openDescriptors() throws Exception {
        try (var s = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private void sendRaw(ByteBuffer bytes) throws Exception {
        // The channel's send validates sizes, so reach the socket through a header that lies.
        java.lang.reflect.Field f = Channel.class.getDeclaredField("socket");
        f.setAccessible(true);
        ((UnixSocket) f.get(a)).send(bytes, new int[0]);
    }
}
