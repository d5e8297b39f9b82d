package vfio.backend.user.internal.transport;

import java.nio.ByteBuffer;
import vfio.user.protocol.Header;

/**
 * Answers the commands a vfio-user server sends to the client ({@code DMA_READ}, {@code DMA_WRITE};
 * anything else should be refused).
 *
 * <p><b>Threading:</b> called by whichever thread currently reads the connection, one command at a
 * time, possibly while other threads call the device. Must not block on anything but memory copies:
 * the connection cannot deliver replies while a command is being served.
 */
@FunctionalInterface
public interface ServerCommandHandler {
    /**
     * @param header the command's header (a command, not a reply)
     * @param body   its body, little-endian, position 0; only valid during the call
     * @return the answer to send back (ignored if the command asked for no reply); never null
     */
    Answer handle(Header header, ByteBuffer body);

    /**
     * A reply to a server command: success with a body, or an errno.
     *
     * @param errno 0 for success, else the POSIX error number the reply carries
     * @param body  the reply body for success (position to limit); null or empty for none
     */
    record Answer(int errno, ByteBuffer body) {
        /** @return a success reply carrying {@code body} */
        public static Answer ok(ByteBuffer body) {
            return new Answer(0, body);
        }

        /** @return an error reply carrying {@code errno} and no body */
        public static Answer error(int errno) {
            if (errno <= 0) {
                throw new IllegalArgumentException("an error answer needs a positive errno, got " + errno);
            }
            return new Answer(errno, null);
        }

        /** @return the number of body bytes */
        public int bodySize() {
            return body == null ? 0 : body.remaining();
        }
    }
}
