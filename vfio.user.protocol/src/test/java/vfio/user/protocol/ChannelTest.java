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
