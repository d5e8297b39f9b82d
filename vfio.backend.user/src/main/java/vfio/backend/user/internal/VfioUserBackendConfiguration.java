package vfio.backend.user.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the vfio-user client backend (PID {@code vfio.backend.user}); all optional. */
@ObjectClassDefinition(name = "vfio-user client backend",
        description = "Serves devices with addresses vfio-user:/path/to/server.sock through a vfio-user server.")
public @interface VfioUserBackendConfiguration {
    /** @return how long opening a device keeps retrying while the socket is missing or refuses connections */
    @AttributeDefinition(name = "Connect retry (ms)", min = "0",
            description = "How long opening a device keeps retrying while the server's socket does not exist yet"
                    + " or refuses connections (a server creates it just before it listens).")
    long connect_retry_ms() default 2000;

    /** @return directories the sockets must lie in; empty for any */
    @AttributeDefinition(name = "Socket directories", required = false,
            description = "If set, only sockets whose real path (symbolic links resolved) lies inside one of"
                    + " these directories are accepted. Empty: any absolute path.")
    String[] socket_directories() default {};

    /** @return the largest data transfer per message this client proposes */
    @AttributeDefinition(name = "Max data transfer size (bytes)", min = "4096", max = "67108864",
            description = "The max_data_xfer_size this client proposes: the largest region read/write or DMA"
                    + " transfer in one message. Larger accesses are split.")
    int max_data_xfer_size() default 1 << 20;

    /** @return whether to offer twin-socket mode */
    @AttributeDefinition(name = "Offer twin-socket mode",
            description = "Offer the server a second socket for the commands it sends (DMA_READ/DMA_WRITE), so they"
                    + " never queue behind replies. Servers that do not support it are used in single-socket mode.")
    boolean twin_socket() default true;

    /** @return whether to map region files that are not sealed against shrinking */
    @AttributeDefinition(name = "Map unsealed region files",
            description = "Map a region's file even when the server did not seal it against shrinking (F_SEAL_SHRINK)."
                    + " A server that then shrinks the file makes mapped accesses fault (SIGBUS), which can end the"
                    + " JVM; leave off unless the server is trusted. Off: such regions use read/write messages.")
    boolean map_unsealed_region_fds() default false;
}
