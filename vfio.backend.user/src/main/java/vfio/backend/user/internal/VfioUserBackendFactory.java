package vfio.backend.user.internal;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.metatype.annotations.Designate;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.DeviceException;
import vfio.backend.user.internal.device.VfioUserDevice;
import vfio.backend.user.internal.dma.DmaWindows;
import vfio.backend.user.internal.transport.Connection;
import vfio.user.protocol.Capabilities;

/**
 * The vfio-user client backend: serves devices whose address is {@code vfio-user:<absolute path of
 * the server's UNIX socket>}.
 *
 * <p>{@link #match} only inspects the file (it must be a socket this process may connect to), so it
 * reports the server present again as soon as its socket is back; reconnecting after a failure is the
 * core opening the device again. {@link #open} connects (retrying briefly while the socket is missing
 * or refuses), negotiates version and capabilities (proposing {@code max_msg_fds} {@value
 * Connection#MAX_RECEIVED_FDS} and the configured {@code max_data_xfer_size}) and reads the device
 * info. Twin-socket mode is offered (configurable); when the server takes it, its commands arrive on
 * a socket of their own, else on the main socket where whichever thread reads serves them (see
 * {@link Connection}).
 *
 * <p>This backend accepts no device options. Thread-safe; holds no per-device state.
 */
@Component(service = BackendFactory.class, property = BackendFactory.PROP_ID + "=" + VfioUserBackendFactory.ID,
        configurationPid = VfioUserBackendFactory.ID, configurationPolicy = ConfigurationPolicy.OPTIONAL)
@Designate(ocd = VfioUserBackendConfiguration.class)
public final class VfioUserBackendFactory implements BackendFactory {
    /** The backend id and configuration PID. */
    public static final String ID = "vfio.backend.user";
    /** What this client proposes as max_msg_fds. */
    public static final int PROPOSED_MAX_MSG_FDS = Connection.MAX_RECEIVED_FDS;

    private final Duration connectRetry;
    private final List<Path> socketDirectories;
    private final int maxDataTransfer;
    private final boolean offerTwinSocket;
    private final boolean mapUnsealed;

    /** DS constructor. */
    @Activate
    public VfioUserBackendFactory(VfioUserBackendConfiguration config) {
        this(Duration.ofMillis(Math.max(0, config.connect_retry_ms())),
                Arrays.stream(config.socket_directories()).filter(s -> !s.isBlank()).map(String::trim).map(Path::of)
                        .toList(),
                config.max_data_xfer_size(), config.twin_socket(), config.map_unsealed_region_fds());
    }

    /**
     * @param connectRetry      how long {@link #open} retries while the socket is missing or refuses
     * @param socketDirectories if not empty, the only directories sockets may lie in
     * @param maxDataTransfer   the max_data_xfer_size to propose, 4 KiB .. 64 MiB
     * @param offerTwinSocket   whether to offer twin-socket mode
     * @param mapUnsealed       whether to map region files not sealed against shrinking (unsafe with an
     *                          untrusted server)
     * @throws IllegalArgumentException if a value is out of range or a directory is not absolute
     */
    public VfioUserBackendFactory(Duration connectRetry, List<Path> socketDirectories, int maxDataTransfer,
            boolean offerTwinSocket, boolean mapUnsealed) {
        if (maxDataTransfer < 4096 || maxDataTransfer > 64 << 20) {
            throw new IllegalArgumentException("max.data.xfer.size " + maxDataTransfer + " outside [4096, 64 MiB]");
        }
        for (Path d : socketDirectories) {
            if (!d.isAbsolute()) {
                throw new IllegalArgumentException("socket directory " + d + " is not an absolute path");
            }
        }
        this.connectRetry = connectRetry;
        this.socketDirectories = List.copyOf(socketDirectories);
        this.maxDataTransfer = maxDataTransfer;
        this.offerTwinSocket = offerTwinSocket;
        this.mapUnsealed = mapUnsealed;
    }

    /**
     * A factory with the defaults: 2 s connect retry, any directory, 1 MiB transfers, twin socket
     * offered, only sealed region files mapped.
     */
    public static VfioUserBackendFactory defaults() {
        return new VfioUserBackendFactory(Duration.ofSeconds(2), List.of(), 1 << 20, true, false);
    }

    @Override
    public String id() {
        return ID;
    }

    @Override
    public Match match(String address) {
        if (!SocketAddress.hasScheme(address)) {
            return Match.no("not a vfio-user address: this backend serves " + SocketAddress.SCHEME + "/path/to/server.sock");
        }
        try {
            Path real = SocketAddress.check(SocketAddress.parse(address), socketDirectories);
            return Match.of(Match.DEFAULT_SCORE, "vfio-user server socket " + real);
        } catch (IllegalArgumentException e) {
            return Match.no(e.getMessage());
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws DeviceException if an option is given (none is accepted), the address is not a usable
     *                         socket, nobody accepts connections there within the connect retry time,
     *                         or the server speaks another protocol version
     */
    @Override
    public DeviceIoOps open(OpenRequest request) {
        if (!request.options().isEmpty()) {
            throw new DeviceException("device " + request.name() + ": unknown option(s) "
                    + new TreeSet<>(request.options().keySet()) + " for backend " + ID + "; it accepts no options");
        }
        Path path;
        try {
            path = SocketAddress.parse(request.address());
        } catch (IllegalArgumentException e) {
            throw new DeviceException("device " + request.name() + ": " + e.getMessage());
        }
        Path target = awaitSocket(request.name(), path);
        Capabilities proposal = new Capabilities(PROPOSED_MAX_MSG_FDS, maxDataTransfer,
                Capabilities.DEFAULT_MAX_DMA_MAPS, Capabilities.DEFAULT_PGSIZES, Optional.empty(),
                offerTwinSocket ? Optional.of(new Capabilities.TwinSocket(true, 0)) : Optional.empty(), false);
        DmaWindows dma = new DmaWindows(maxDataTransfer, request.name());
        Connection connection = Connection.open(target, request.name(), request.timeout(), connectRetry, proposal, dma);
        return new VfioUserDevice(request.name(), connection, dma, mapUnsealed);
    }

    /**
     * Waits (up to the connect retry time) for the socket file to appear, then checks it.
     *
     * @return the path to connect to (symbolic links resolved)
     */
    private Path awaitSocket(String device, Path path) {
        long deadline = System.nanoTime() + connectRetry.toNanos();
        while (true) {
            // Whether the file existed *before* the check decides: a server binding right after a failed
            // check must lead to another check, not to the stale "does not exist" error.
            boolean existed = path.toFile().exists();
            try {
                return SocketAddress.check(path, socketDirectories);
            } catch (IllegalArgumentException e) {
                // Only a missing file is worth waiting for; anything else will not fix itself.
                if (existed || System.nanoTime() - deadline >= 0) {
                    throw new DeviceException("device " + device + ": " + e.getMessage());
                }
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DeviceException("device " + device + ": interrupted while waiting for " + path);
            }
        }
    }
}
