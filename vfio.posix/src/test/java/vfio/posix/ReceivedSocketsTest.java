package vfio.posix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReceivedSocketsTest {
    @Test
    void aSocketPassedOverASocketCanBeUsed() throws Exception {
        UnixSocket[] carrier = UnixSocket.pair();
        UnixSocket[] passed = UnixSocket.pair();
        try {
            carrier[0].send(ByteBuffer.wrap(new byte[] {1}), new int[] {passed[1].fd().value()});
            List<Fd> fds = new ArrayList<>();
            carrier[1].receive(ByteBuffer.allocate(1), fds, 1);
            try (UnixSocket adopted = ReceivedSockets.adopt(fds.get(0))) {
                passed[0].send(ByteBuffer.wrap(new byte[] {42}), new int[0]);
                ByteBuffer in = ByteBuffer.allocate(1);
                adopted.receive(in, new ArrayList<>(), 0);
                assertThat(in.get(0)).isEqualTo((byte) 42);
            }
        } finally {
            for (UnixSocket s : new UnixSocket[] {carrier[0], carrier[1], passed[0], passed[1]}) {
                s.close();
            }
        }
    }

    @Test
    void anythingElseIsRefusedAndClosed() throws Exception {
        Fd memfd = MemFd.create("not-a-socket", 16);
        assertThatThrownBy(() -> ReceivedSockets.adopt(memfd)).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(88));
        assertThat(memfd.isOpen()).isFalse();
    }
}
