package vfio.user.protocol;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import vfio.posix.Fd;

/**
 * A received message: header, body and the file descriptors that came with it. The message owns the
 * descriptors until {@link #takeFds()} hands them to the caller; {@link #close()} closes whatever was
 * not taken, so a rejected message never leaks one.
 */
public final class Message implements AutoCloseable {
    private final Header header;
    private final ByteBuffer body;
    private List<Fd> fds;

    public Message(Header header, ByteBuffer body, List<Fd> fds) {
        this.header = header;
        this.body = body;
        this.fds = fds;
    }

    /** @return the header */
    public Header header() {
        return header;
    }

    /** @return the body, little-endian, position 0 (a view: each call returns a new one) */
    public ByteBuffer body() {
        return Wire.le(body);
    }

    /** @return how many descriptors came with the message and were not yet taken */
    public int fdCount() {
        return fds.size();
    }

    /** @return the descriptors, now owned by the caller (the message then holds none) */
    public List<Fd> takeFds() {
        List<Fd> taken = fds;
        fds = new ArrayList<>(0);
        return taken;
    }

    /** Closes the descriptors that were not taken. Idempotent. */
    @Override
    public void close() {
        for (Fd fd : takeFds()) {
            fd.close();
        }
    }

    @Override
    public String toString() {
        return header + (fds.isEmpty() ? "" : " fds=" + fds.size());
    }
}
