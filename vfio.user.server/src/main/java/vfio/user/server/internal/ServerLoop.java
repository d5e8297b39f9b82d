package vfio.user.server.internal;

import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicLong;
import vfio.posix.ErrnoException;
import vfio.posix.UnixServerSocket;
import vfio.posix.UnixSocket;
import vfio.user.protocol.Channel;
import vfio.user.server.ServerOptions;

/**
 * The server thread's work: accept a client, serve it to the end, accept the next. Clients that
 * connect while one is served wait in the listen backlog until it leaves.
 */
public final class ServerLoop implements Runnable {
    private static final System.Logger LOG = System.getLogger(ServerLoop.class.getName());
    private static final int ACCEPT_POLL_MS = 200;

    private final DeviceModel device;
    private final UnixServerSocket listener;
    private final ServerOptions options;
    private final AtomicLong clients = new AtomicLong();
    private volatile boolean stopping;
    private volatile Connection current;

    public ServerLoop(DeviceModel device, UnixServerSocket listener, ServerOptions options) {
        this.device = device;
        this.listener = listener;
        this.options = options;
    }

    @Override
    public void run() {
        while (!stopping) {
            UnixSocket socket;
            try {
                socket = listener.accept(ACCEPT_POLL_MS);
            } catch (ErrnoException e) {
                if (!stopping) {
                    LOG.log(Level.WARNING, "accept on " + listener.path() + " failed; retrying", e);
                    sleep();
                }
                continue;
            }
            if (socket == null) {
                continue;
            }
            long n = clients.incrementAndGet();
            Connection c = new Connection(new Channel(socket, "vfio-user client #" + n + " on " + listener.path()),
                    device, options);
            current = c;
            if (stopping) {
                c.shutdown();
            }
            c.serve();
            current = null;
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(ACCEPT_POLL_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Makes {@link #run()} return soon: disconnects the current client and stops accepting. */
    public void stop() {
        stopping = true;
        Connection c = current;
        if (c != null) {
            c.shutdown();
        }
    }

    /** @return whether a client is being served */
    public boolean clientConnected() {
        return current != null;
    }

    /** @return how many clients were accepted so far */
    public long clientsAccepted() {
        return clients.get();
    }
}
