package vfio.user.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import vfio.posix.Errno;
import vfio.user.protocol.Command;
import vfio.user.protocol.Message;
import vfio.user.server.testing.TestClient;

class MigrationTest extends ServerFixture {
    static final int GET = 1 << 16;
    static final int SET = 1 << 17;
    static final int PROBE = 1 << 18;
    static final int RUNNING = 2;
    static final int STOP = 1;
    static final int STOP_COPY = 3;
    static final int RESUMING = 4;

    static ByteBuffer feature(int argsz, int flags, int... data) {
        ByteBuffer b = TestClient.le(8 + 4 * data.length).putInt(argsz).putInt(flags);
        for (int d : data) {
            b.putInt(d);
        }
        return b.flip();
    }

    static int state(TestClient c) throws Exception {
        try (Message m = c.call(Command.DEVICE_FEATURE, feature(16, GET | 2))) {
            TestClient.check(m);
            return m.body().getInt(8);
        }
    }

    static int setState(TestClient c, int state) throws Exception {
        return c.errnoOf(Command.DEVICE_FEATURE, feature(16, SET | 2, state, -1));
    }

    @Test
    void theMigrationFeatureIsAdvertised() throws Exception {
        try (TestClient c = client()) {
            try (Message m = c.call(Command.DEVICE_FEATURE, feature(16, GET | 1))) {
                TestClient.check(m);
                assertThat(m.body().getInt(0)).as("argsz").isEqualTo(16);
                assertThat(m.body().getLong(8)).as("STOP_COPY").isEqualTo(1);
            }
            assertThat(c.errnoOf(Command.DEVICE_FEATURE, feature(8, PROBE | GET | 1))).isZero();
            assertThat(c.errnoOf(Command.DEVICE_FEATURE, feature(8, PROBE | SET | 2))).isZero();
            assertThat(c.errnoOf(Command.DEVICE_FEATURE, feature(8, PROBE | SET | 1))).isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_FEATURE, feature(8, PROBE | 6))).as("DMA logging").isEqualTo(Errno.ENOTTY);
            assertThat(c.errnoOf(Command.DEVICE_FEATURE, feature(8, GET | 1))).as("argsz too small")
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_FEATURE, feature(16, GET | SET | 1))).isEqualTo(Errno.EINVAL);
            assertThat(state(c)).isEqualTo(RUNNING);
        }
    }

    @Test
    void stateMovesFromOneDeviceToAnother() throws Exception {
        byte[] saved;
        try (TestClient c = TestClient.open(socket, "{\"capabilities\":{\"max_data_xfer_size\":1000}}")) {
            c.write(0, 0x40, 8, 0x1234_5678_9abcL);
            c.write(0, 0x1f8, 4, 7);
            assertThat(c.errnoOf(Command.MIG_DATA_READ, TestClient.le(8).putInt(1008).putInt(1000).flip()))
                    .as("not saving").isEqualTo(Errno.EINVAL);
            assertThat(setState(c, STOP_COPY)).isZero();
            assertThat(state(c)).isEqualTo(STOP_COPY);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            while (true) {
                try (Message m = c.call(Command.MIG_DATA_READ, TestClient.le(8).putInt(1 << 20).putInt(1 << 20).flip())) {
                    TestClient.check(m);
                    ByteBuffer b = m.body();
                    int size = b.getInt(4);
                    assertThat(b.getInt(0)).isEqualTo(8 + size);
                    assertThat(size).isLessThanOrEqualTo(1000);
                    out.write(b.array(), b.arrayOffset() + 8, size);
                    if (size < 1000) {
                        break;
                    }
                }
            }
            saved = out.toByteArray();
            assertThat(saved).hasSize(4096);
            assertThat(setState(c, RUNNING)).isZero();
        }
        try (TestDevice other = new TestDevice(); VfioUserServer s = VfioUserServer.start(other.device, dir.resolve("b.sock"));
                TestClient c = TestClient.open(dir.resolve("b.sock"), null)) {
            assertThat(c.errnoOf(Command.MIG_DATA_WRITE, migWrite(new byte[4]))).as("not resuming").isEqualTo(Errno.EINVAL);
            assertThat(setState(c, RESUMING)).isZero();
            for (int at = 0; at < saved.length; at += 1000) {
                byte[] chunk = java.util.Arrays.copyOfRange(saved, at, Math.min(saved.length, at + 1000));
                assertThat(c.errnoOf(Command.MIG_DATA_WRITE, migWrite(chunk))).isZero();
            }
            assertThat(setState(c, RUNNING)).isZero();
            assertThat(c.read(0, 0x40, 8)).isEqualTo(0x1234_5678_9abcL);
            assertThat(c.read(0, 0x1f8, 4)).isEqualTo(7);
        }
    }

    @Test
    void aBadStateLeavesTheDeviceInErrorUntilReset() throws Exception {
        try (TestClient c = client()) {
            assertThat(setState(c, RESUMING)).isZero();
            assertThat(c.errnoOf(Command.MIG_DATA_WRITE, migWrite(new byte[] {1, 2, 3}))).isZero();
            ByteBuffer lying = migWrite(new byte[] {1, 2, 3});
            lying.putInt(4, 99);
            assertThat(c.errnoOf(Command.MIG_DATA_WRITE, lying)).as("size does not match the data").isEqualTo(Errno.EINVAL);
            assertThat(setState(c, STOP)).isEqualTo(Errno.EIO);
            assertThat(state(c)).isZero();
            assertThat(setState(c, RUNNING)).isEqualTo(Errno.EINVAL);
            assertThat(setState(c, 6)).as("PRE_COPY is not supported").isEqualTo(Errno.EINVAL);
            assertThat(c.errnoOf(Command.DEVICE_RESET, null)).isZero();
            assertThat(state(c)).isEqualTo(RUNNING);
        }
    }

    @Test
    void aDeviceWithoutMigrationOffersNone() throws Exception {
        Path sock = dir.resolve("plain.sock");
        try (PciDevice d = PciDevice.builder().vendorId(1).deviceId(2).build(); VfioUserServer s = VfioUserServer.start(d, sock);
                TestClient c = TestClient.connect(sock)) {
            assertThat(c.negotiate(null).migration()).isEmpty();
            assertThat(c.errnoOf(Command.DEVICE_FEATURE, feature(16, GET | 1))).isEqualTo(Errno.ENOTTY);
            assertThat(c.errnoOf(Command.MIG_DATA_READ, TestClient.le(8).putInt(16).putInt(8).flip()))
                    .isEqualTo(Errno.EINVAL);
        }
    }

    static ByteBuffer migWrite(byte[] data) {
        return TestClient.le(8 + data.length).putInt(8).putInt(data.length).put(data).flip();
    }
}
