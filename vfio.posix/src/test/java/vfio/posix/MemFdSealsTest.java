package vfio.posix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class MemFdSealsTest {
    @Test
    void aSealedMemfdCannotChangeSizeButIsReadableAndWritable() throws Exception {
        try (Fd fd = MemFdSeals.createSealed("sealed", 8192)) {
            int seals = MemFdSeals.seals(fd);
            assertThat(seals & MemFdSeals.F_SEAL_SHRINK).isNotZero();
            assertThat(seals & MemFdSeals.F_SEAL_GROW).isNotZero();
            MappedMemory m = MappedMemory.map(fd, 0, 8192, true);
            try {
                m.view().putInt(8188, 7);
                ByteBuffer b = ByteBuffer.allocate(4);
                fd.pread(b, 8188);
                assertThat(b.flip().order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt()).isEqualTo(7);
            } finally {
                m.unmap();
            }
            // growing by writing past the end is refused too
            assertThatThrownBy(() -> fd.pwrite(ByteBuffer.allocate(1), 8192)).isInstanceOf(ErrnoException.class);
        }
    }

    @Test
    void plainMemfdsAndRegularFilesHaveNoSeals() throws Exception {
        try (Fd memfd = MemFd.create("plain", 4096); Fd file = Fd.open("/proc/self/status", Fd.O_RDONLY)) {
            assertThat(MemFdSeals.seals(memfd) & MemFdSeals.F_SEAL_SHRINK).isZero();
            assertThat(MemFdSeals.seals(file)).isZero();
        }
    }
}
