package vfio.emulator.edu;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import vfio.emulator.edu.internal.EduDevice;
import vfio.user.server.VfioUserServer;

/**
 * A running edu device emulation: the device and the vfio-user server that serves it on a UNIX
 * socket, one client at a time (register map: QEMU's {@code docs/specs/edu.rst}; details in the
 * device's implementation notes).
 *
 * <pre>{@code
 * try (EduEmulator edu = EduEmulator.start(dir.resolve("edu.sock"))) {
 *     // connect a vfio-user client to edu.socket()
 * }
 * }</pre>
 *
 * <p>Ownership: {@link #close()} stops the server (disconnecting its client), removes the socket
 * file and releases the device. Threading: thread-safe.
 */
public final class EduEmulator implements AutoCloseable {
    /** PCI vendor id of the edu device. */
    public static final int VENDOR_ID = EduDevice.VENDOR_ID;
    /** PCI device id of the edu device. */
    public static final int DEVICE_ID = EduDevice.DEVICE_ID;
    /** Default delay before a factorial or a DMA completes. */
    public static final Duration DEFAULT_LATENCY = Duration.ofMillis(1);
    /** Width of DMA addresses, as QEMU's default {@code dma_mask}. */
    public static final int DMA_MASK_BITS = 28;

    private final EduDevice device;
    private final VfioUserServer server;

    private EduEmulator(EduDevice device, VfioUserServer server) {
        this.device = device;
        this.server = server;
    }

    /** Same as {@link #start(Path, Duration)} with {@link #DEFAULT_LATENCY}. */
    public static EduEmulator start(Path socket) throws IOException {
        return start(socket, DEFAULT_LATENCY);
    }

    /**
     * Creates the device and serves it on {@code socket} (a stale socket file is replaced). The
     * socket exists when this method returns.
     *
     * @param latency delay before a factorial or DMA completes (QEMU: immediate, and 100 ms)
     * @throws IOException if the socket cannot be created (e.g. EADDRINUSE: another server listens)
     */
    public static EduEmulator start(Path socket, Duration latency) throws IOException {
        EduDevice device = new EduDevice(latency, DMA_MASK_BITS);
        try {
            return new EduEmulator(device, VfioUserServer.start(device.pciDevice(), socket));
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** @return the socket file clients connect to */
    public Path socket() {
        return server.socketPath();
    }

    /** @return whether a client is connected */
    public boolean isClientConnected() {
        return server.isClientConnected();
    }

    /** Stops serving and releases the device. Idempotent. */
    @Override
    public void close() {
        server.close();
        device.close();
    }

    @Override
    public String toString() {
        return "EduEmulator[" + server.socketPath() + "]";
    }
}
