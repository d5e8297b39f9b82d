package vfio.user.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;
import vfio.posix.EventFd;
import vfio.posix.UnixSocket;
import vfio.user.protocol.Command;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.server.testing.TestClient;

/** Clients that break the rules: the server must disconnect them or refuse, never crash or hang. */
class HostileClientTest extends ServerFixture {
    @Override
    ServerOptions options() {
        return ServerOptions.defaults().withMessageTimeoutMs(500).withHandshakeTimeoutMs(1000);
    }

    private static ByteBuffer rawHeader(int id, int command, int size, int flags) {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) id).putShort((short) command).putInt(size).putInt(flags).putInt(0);
        return b.flip();
    }

    private void assertDisconnectedAfter(ByteBuffer raw, int... fds) throws Exception {
        try (TestClient c = client()) {
            UnixSocketAccess.send(c, raw, fds);
            HandshakeTest.assertClosed(c);
        }
        awaitServerIdle();
        assertStillServes();
    }

    private void assertStillServes() throws Exception {
        try (TestClient c = client()) {
            assertThat(c.read(7, 0, 2)).isEqualTo(0x1af4);
        }
        awaitServerIdle();
    }

    @Test
    void oversizedMessagesDisconnectWithoutReadingTheBody() throws Exception {
        assertDisconnectedAfter(rawHeader(1, Command.REGION_WRITE.code(), Integer.MAX_VALUE, 0));
        assertDisconnectedAfter(rawHeader(1, Command.REGION_WRITE.code(), -16, 0));
        assertDisconnectedAfter(rawHeader(1, Command.REGION_WRITE.code(), 2 << 20, 0));
    }

    @Test
    void undersizedAndUntypedMessagesDisconnect() throws Exception {
        assertDisconnectedAfter(rawHeader(1, Command.DEVICE_GET_INFO.code(), 15, 0));
        assertDisconnectedAfter(rawHeader(1, Command.DEVICE_GET_INFO.code(), 16, 5));
    }

    @Test
    void aReplyToACommandTheServerNeverSentDisconnects() throws Exception {
        assertDisconnectedAfter(rawHeader(1, Command.REGION_READ.code(), 16, Header.TYPE_REPLY));
    }

    @Test
    void anUnsolicitedDmaReplyIsDropped() throws Exception {
        try (TestClient c = client()) {
            UnixSocketAccess.send(c, rawHeader(99, Command.DMA_READ.code(), 16, Header.TYPE_REPLY));
            assertThat(c.read(7, 0, 2)).isEqualTo(0x1af4);
        }
    }

    @Test
    void tooManyDescriptorsDisconnectAndAreClosed() throws Exception {
        int before = TestDevice.openFds();
        EventFd[] evs = new EventFd[17];
        try {
            int[] fds = new int[evs.length];
            for (int i = 0; i < evs.length; i++) {
                evs[i] = EventFd.create();
                fds[i] = evs[i].fd().value();
            }
            ByteBuffer msg = ByteBuffer.allocate(36).order(ByteOrder.LITTLE_ENDIAN);
            msg.put(rawHeader(1, Command.DEVICE_SET_IRQS.code(), 36, 0));
            msg.putInt(20).putInt(0x24).putInt(2).putInt(0).putInt(4);
            assertDisconnectedAfter(msg.flip(), fds);
        } finally {
            for (EventFd e : evs) {
                if (e != null) {
                    e.close();
                }
            }
        }
        assertThat(TestDevice.openFds()).isEqualTo(before);
    }

    @Test
    void aMessageCutShortByTheClientClosingIsSurvived() throws Exception {
        try (TestClient c = client()) {
            ByteBuffer partial = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
            partial.put(rawHeader(1, Command.REGION_WRITE.code(), 36, 0)).putLong(0);
            UnixSocketAccess.send(c, partial.flip());
        }
        awaitServerIdle();
        try (UnixSocket s = UnixSocket.connect(socket)) {
            s.send(ByteBuffer.wrap(new byte[7]), new int[0]); // half a header, then gone
        }
        awaitServerIdle();
        assertStillServes();
    }

    @Test
    void aClientThatStallsMidMessageIsDisconnected() throws Exception {
        try (TestClient c = client()) {
            ByteBuffer partial = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
            partial.put(rawHeader(1, Command.REGION_WRITE.code(), 40, 0)).putInt(0);
            UnixSocketAccess.send(c, partial.flip());
            HandshakeTest.assertClosed(c); // after the 500 ms message timeout
        }
        awaitServerIdle();
        assertStillServes();
    }

    @Test
    void aClientThatNeverSendsVersionIsDisconnected() throws Exception {
        try (TestClient c = TestClient.connect(socket)) {
            HandshakeTest.assertClosed(c);
        }
        awaitServerIdle();
        assertStillServes();
    }

    @Test
    void randomWellFramedRequestsAreAnsweredOrRefusedAndTheSessionSurvives() throws Exception {
        Random random = new Random(4242);
        try (TestClient c = client()) {
            for (int i = 0; i < 3000; i++) {
                int command = random.nextInt(20);
                if (command == Command.VERSION.code()) {
                    continue;
                }
                byte[] body = new byte[random.nextInt(48)];
                random.nextBytes(body);
                if (body.length >= 16 && random.nextBoolean()) {
                    // plausible region accesses: small counts and offsets
                    ByteBuffer b = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
                    b.putLong(0, random.nextInt(512)).putInt(8, random.nextInt(10)).putInt(12, random.nextInt(9));
                }
                int flags = random.nextInt(8) == 0 ? Header.NO_REPLY : 0;
                c.channel().send(new Header(i & 0xffff, command, 16 + body.length, flags, 0), ByteBuffer.wrap(body),
                        new int[0]);
                if (flags == 0) {
                    try (Message reply = c.receive()) {
                        assertThat(reply).as("reply to request " + i).isNotNull();
                        assertThat(reply.header().isReply()).isTrue();
                        assertThat(reply.header().id()).isEqualTo(i & 0xffff);
                    }
                }
            }
            assertThat(c.read(7, 0, 2)).isEqualTo(0x1af4);
        }
        awaitServerIdle();
        assertStillServes();
    }

    @Test
    void aFloodOfPostedWritesIsProcessedInOrder() throws Exception {
        try (TestClient c = client()) {
            for (int i = 0; i < 20_000; i++) {
                c.send(Command.REGION_WRITE, TestClient.regionWriteBody(0, 0x80, ByteBuffer.allocate(4)
                        .order(ByteOrder.LITTLE_ENDIAN).putInt(i).array()), true);
            }
            assertThat(c.read(0, 0x80, 4)).isEqualTo(19_999);
        }
    }

    /** Raw access to a test client's socket for malformed bytes. */
    static final class UnixSocketAccess {
        static void send(TestClient c, ByteBuffer raw, int... fds) throws Exception {
            java.lang.reflect.Field f = vfio.user.protocol.Channel.class.getDeclaredField("socket");
            f.setAccessible(true);
            ((UnixSocket) f.get(c.channel())).send(raw, fds);
        }
    }
}
