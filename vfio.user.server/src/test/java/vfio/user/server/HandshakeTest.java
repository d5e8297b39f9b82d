package vfio.user.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import vfio.posix.Errno;
import vfio.posix.EventFd;
import vfio.user.protocol.Capabilities;
import vfio.user.protocol.Command;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.protocol.ProtocolException;
import vfio.user.protocol.VersionPayload;
import vfio.user.server.testing.TestClient;

class HandshakeTest extends ServerFixture {
    @Test
    void versionAgreesOnTheSmallerLimitsAndAnnouncesMigration() throws Exception {
        try (TestClient c = TestClient.connect(socket)) {
            Capabilities caps = c.negotiate("{\"capabilities\":{\"max_msg_fds\":4,\"max_data_xfer_size\":4096,"
                    + "\"unknown_key\":[1,2],\"write_multiple\":true}}");
            assertThat(caps.maxMsgFds()).isEqualTo(4);
            assertThat(caps.maxDataXferSize()).isEqualTo(4096);
            assertThat(caps.maxDmaMaps()).isEqualTo(65535);
            assertThat(caps.writeMultiple()).isTrue();
            assertThat(caps.migration()).isPresent();
            assertThat(caps.twinSocket()).isEmpty();
        }
    }

    @Test
    void versionWithoutJsonGetsTheProtocolDefaults() throws Exception {
        try (TestClient c = TestClient.connect(socket)) {
            Capabilities caps = c.negotiate(null);
            assertThat(caps.maxMsgFds()).isEqualTo(1);
            assertThat(caps.maxDataXferSize()).isEqualTo(1 << 20);
            assertThat(caps.writeMultiple()).isFalse();
        }
    }

    @Test
    void aFirstMessageOtherThanVersionGetsAnErrorAndTheConnectionIsClosed() throws Exception {
        try (TestClient c = TestClient.connect(socket)) {
            ByteBuffer body = TestClient.le(16).putInt(16).flip();
            body.limit(16);
            try (Message reply = c.call(Command.DEVICE_GET_INFO, body)) {
                assertThat(reply.header().isError()).isTrue();
                assertThat(reply.header().error()).isEqualTo(Errno.EINVAL);
            }
            assertClosed(c);
        }
    }

    @Test
    void anotherMajorVersionIsRefusedAndTheConnectionClosed() throws Exception {
        try (TestClient c = TestClient.connect(socket)) {
            ByteBuffer body = TestClient.le(4).putShort((short) 1).putShort((short) 0).flip();
            try (Message reply = c.call(Command.VERSION, body)) {
                assertThat(reply.header().error()).isEqualTo(Errno.EOPNOTSUPP);
            }
            assertClosed(c);
        }
    }

    @Test
    void malformedCapabilitiesAreRefused() throws Exception {
        for (String json : new String[] {"{\"capabilities\":{\"max_msg_fds\":\"many\"}}", "{not json", "[1]",
                "{\"capabilities\":{\"max_data_xfer_size\":1.5}}"}) {
            try (TestClient c = TestClient.connect(socket)) {
                byte[] j = (json + "\0").getBytes(StandardCharsets.UTF_8);
                ByteBuffer body = TestClient.le(4 + j.length).putShort((short) 0).putShort((short) 1).put(j).flip();
                try (Message reply = c.call(Command.VERSION, body)) {
                    assertThat(reply.header().error()).as(json).isEqualTo(Errno.EINVAL);
                }
                assertClosed(c);
            }
            awaitServerIdle();
        }
    }

    @Test
    void aDescriptorWithVersionClosesTheConnectionAndIsNotLeaked() throws Exception {
        int before = TestDevice.openFds();
        try (TestClient c = TestClient.connect(socket); EventFd ev = EventFd.create()) {
            ByteBuffer body = new VersionPayload(0, 1, Capabilities.DEFAULTS).encode();
            c.send(Command.VERSION, body, false, ev.fd().value());
            assertClosed(c);
        }
        awaitServerIdle();
        assertThat(TestDevice.openFds()).isEqualTo(before);
    }

    @Test
    void aSecondVersionIsRefusedButTheSessionGoesOn() throws Exception {
        try (TestClient c = client()) {
            ByteBuffer body = new VersionPayload(0, 1, Capabilities.DEFAULTS).encode();
            assertThat(c.errnoOf(Command.VERSION, body)).isEqualTo(Errno.EINVAL);
            assertThat(c.read(7, 0, 2)).isEqualTo(0x1af4);
        }
    }

    @Test
    void theMinorVersionIsNeverAboveTheProposedOne() throws Exception {
        try (TestClient c = TestClient.connect(socket)) {
            ByteBuffer body = TestClient.le(4).putShort((short) 0).putShort((short) 0).flip();
            try (Message reply = c.call(Command.VERSION, body)) {
                TestClient.check(reply);
                assertThat(VersionPayload.decode(reply.body()).minor()).isZero();
            }
        }
    }

    static void assertClosed(TestClient c) throws Exception {
        try {
            Message m = c.channel().receive(5000, 5000, 1 << 20, 1);
            if (m != null) {
                m.close();
            }
            throw new AssertionError("expected the server to close the connection, got " + (m == null ? "nothing" : m));
        } catch (EOFException | ProtocolException expected) {
            // closed
        } catch (vfio.posix.ErrnoException e) {
            assertThat(e.errno()).isEqualTo(Errno.ECONNRESET);
        }
    }

    static Header header(Message m) {
        return m.header();
    }
}
