package vfio.user.server;

/**
 * Limits and timeouts of a {@link VfioUserServer}. Immutable; start from {@link #defaults()} and
 * change single values with the {@code with...} methods.
 *
 * @param maxDataXferSize       largest data count of one REGION_READ/WRITE, DMA_READ/WRITE or
 *                              MIG_DATA_READ/WRITE, in bytes (offered to the client; the smaller
 *                              of both sides applies); default 1 MiB
 * @param maxMsgFds             most file descriptors the server accepts with one message; default 16
 * @param maxDmaMaps            most DMA mappings a client may hold at once; default 65535
 * @param messageTimeoutMs      how long the rest of a started message may take to arrive before the
 *                              client is disconnected (slow senders); default 2000 ms
 * @param handshakeTimeoutMs    how long a new client has to send VERSION; default 5000 ms
 * @param dmaTimeoutMs          how long device code waits for the client's reply to a DMA_READ or
 *                              DMA_WRITE; default 5000 ms
 * @param maxMigrationStateSize largest migration state accepted or produced, in bytes; default 64 MiB
 * @param twinSocket            whether to set up a twin socket for the server's DMA_READ/DMA_WRITE
 *                              when the client offers one (the specification recommends it for
 *                              servers that send commands); default true
 */
public record ServerOptions(int maxDataXferSize, int maxMsgFds, int maxDmaMaps, int messageTimeoutMs,
        int handshakeTimeoutMs, int dmaTimeoutMs, int maxMigrationStateSize, boolean twinSocket) {
    /**
     * @throws IllegalArgumentException naming the value out of range
     */
    public ServerOptions {
        check(maxDataXferSize, 8, 64 << 20, "maxDataXferSize");
        check(maxMsgFds, 1, 253, "maxMsgFds");
        check(maxDmaMaps, 1, Integer.MAX_VALUE, "maxDmaMaps");
        check(messageTimeoutMs, 1, 600_000, "messageTimeoutMs");
        check(handshakeTimeoutMs, 1, 600_000, "handshakeTimeoutMs");
        check(dmaTimeoutMs, 1, 600_000, "dmaTimeoutMs");
        check(maxMigrationStateSize, 0, Integer.MAX_VALUE - 8, "maxMigrationStateSize");
    }

    private static void check(int v, int min, int max, String name) {
        if (v < min || v > max) {
            throw new IllegalArgumentException(name + " " + v + " outside [" + min + ", " + max + "]");
        }
    }

    /** @return the defaults listed above */
    public static ServerOptions defaults() {
        return new ServerOptions(1 << 20, 16, 65535, 2000, 5000, 5000, 64 << 20, true);
    }

    public ServerOptions withMaxDataXferSize(int v) {
        return new ServerOptions(v, maxMsgFds, maxDmaMaps, messageTimeoutMs, handshakeTimeoutMs, dmaTimeoutMs,
                maxMigrationStateSize, twinSocket);
    }

    public ServerOptions withMaxMsgFds(int v) {
        return new ServerOptions(maxDataXferSize, v, maxDmaMaps, messageTimeoutMs, handshakeTimeoutMs, dmaTimeoutMs,
                maxMigrationStateSize, twinSocket);
    }

    public ServerOptions withMaxDmaMaps(int v) {
        return new ServerOptions(maxDataXferSize, maxMsgFds, v, messageTimeoutMs, handshakeTimeoutMs, dmaTimeoutMs,
                maxMigrationStateSize, twinSocket);
    }

    public ServerOptions withMessageTimeoutMs(int v) {
        return new ServerOptions(maxDataXferSize, maxMsgFds, maxDmaMaps, v, handshakeTimeoutMs, dmaTimeoutMs,
                maxMigrationStateSize, twinSocket);
    }

    public ServerOptions withHandshakeTimeoutMs(int v) {
        return new ServerOptions(maxDataXferSize, maxMsgFds, maxDmaMaps, messageTimeoutMs, v, dmaTimeoutMs,
                maxMigrationStateSize, twinSocket);
    }

    public ServerOptions withDmaTimeoutMs(int v) {
        return new ServerOptions(maxDataXferSize, maxMsgFds, maxDmaMaps, messageTimeoutMs, handshakeTimeoutMs, v,
                maxMigrationStateSize, twinSocket);
    }

    public ServerOptions withMaxMigrationStateSize(int v) {
        return new ServerOptions(maxDataXferSize, maxMsgFds, maxDmaMaps, messageTimeoutMs, handshakeTimeoutMs,
                dmaTimeoutMs, v, twinSocket);
    }

    public ServerOptions withTwinSocket(boolean v) {
        return new ServerOptions(maxDataXferSize, maxMsgFds, maxDmaMaps, messageTimeoutMs, handshakeTimeoutMs,
                dmaTimeoutMs, maxMigrationStateSize, v);
    }
}
