package vfio.user.server.internal;

import java.io.ByteArrayOutputStream;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import vfio.posix.Errno;
import vfio.user.server.MigrationHandler;

/**
 * The VFIO migration v2 device state machine, STOP_COPY flavour (no PRE_COPY, no P2P states):
 * RUNNING, STOP, STOP_COPY (state readable with MIG_DATA_READ), RESUMING (state written with
 * MIG_DATA_WRITE) and ERROR. STOP is the hub: every supported transition is "to STOP, then to the
 * target", which is the shortest path the specification asks for.
 *
 * <p>Threading: used by the connection thread only.
 */
final class MigrationFsm {
    static final int ERROR = 0;
    static final int STOP = 1;
    static final int RUNNING = 2;
    static final int STOP_COPY = 3;
    static final int RESUMING = 4;
    private static final System.Logger LOG = System.getLogger(MigrationFsm.class.getName());

    private final MigrationHandler handler;
    private final int maxStateSize;
    private int state = RUNNING;
    private ByteBuffer saved;
    private ByteArrayOutputStream incoming;

    MigrationFsm(MigrationHandler handler, int maxStateSize) {
        this.handler = handler;
        this.maxStateSize = maxStateSize;
    }

    int state() {
        return state;
    }

    /**
     * Moves to {@code target}, completing the transition before returning.
     *
     * @throws Refused EINVAL for a state this device does not support or from ERROR; EIO (and the
     *                 ERROR state) if the device failed to save or load its state
     */
    void transition(int target) throws Refused {
        if (target != STOP && target != RUNNING && target != STOP_COPY && target != RESUMING) {
            throw new Refused(Errno.EINVAL, "migration state " + target + " is not supported (RUNNING 2, STOP 1, "
                    + "STOP_COPY 3, RESUMING 4 are)");
        }
        if (state == ERROR) {
            throw new Refused(Errno.EINVAL, "the device is in the migration ERROR state; reset it first");
        }
        if (target == state) {
            return;
        }
        if (state != STOP) {
            arc(state, STOP);
        }
        if (target != STOP) {
            arc(STOP, target);
        }
    }

    private void arc(int from, int to) throws Refused {
        try {
            switch (from * 10 + to) {
                case RUNNING * 10 + STOP -> handler.stop();
                case STOP * 10 + RUNNING -> handler.resume();
                case STOP * 10 + STOP_COPY -> {
                    byte[] data = handler.save();
                    if (data.length > maxStateSize) {
                        throw new IllegalStateException("saved state of " + data.length + " bytes exceeds the limit of "
                                + maxStateSize);
                    }
                    saved = ByteBuffer.wrap(data);
                }
                case STOP_COPY * 10 + STOP -> saved = null;
                case STOP * 10 + RESUMING -> incoming = new ByteArrayOutputStream();
                case RESUMING * 10 + STOP -> {
                    byte[] data = incoming.toByteArray();
                    incoming = null;
                    handler.load(data);
                }
                default -> throw new IllegalStateException("no arc from " + from + " to " + to);
            }
            state = to;
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "migration transition " + from + " -> " + to + " failed; device now in ERROR", e);
            state = ERROR;
            saved = null;
            incoming = null;
            throw new Refused(Errno.EIO, "migration transition " + from + " -> " + to + " failed: " + e.getMessage());
        }
    }

    /**
     * @return up to {@code max} bytes of the saved state (fewer, possibly none, at its end)
     * @throws Refused EINVAL unless in STOP_COPY
     */
    byte[] read(int max) throws Refused {
        if (state != STOP_COPY) {
            throw new Refused(Errno.EINVAL, "MIG_DATA_READ needs the STOP_COPY state, the device is in " + state);
        }
        byte[] out = new byte[Math.min(max, saved.remaining())];
        saved.get(out);
        return out;
    }

    /** @throws Refused EINVAL unless in RESUMING; EFBIG past the state size limit */
    void write(ByteBuffer data) throws Refused {
        if (state != RESUMING) {
            throw new Refused(Errno.EINVAL, "MIG_DATA_WRITE needs the RESUMING state, the device is in " + state);
        }
        if (incoming.size() + (long) data.remaining() > maxStateSize) {
            throw new Refused(27 /* EFBIG */, "migration data exceeds the limit of " + maxStateSize + " bytes");
        }
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        incoming.writeBytes(bytes);
    }

    /** Device reset: back to RUNNING, dropping any transfer in progress. */
    void reset() {
        boolean stopped = state != RUNNING && state != ERROR;
        state = RUNNING;
        saved = null;
        incoming = null;
        if (stopped) {
            try {
                handler.resume();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "the device failed to resume after reset", e);
            }
        }
    }
}
