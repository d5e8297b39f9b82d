package vfio.emulator.edu.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import vfio.emulator.edu.EduEmulator;

/**
 * One edu emulation per factory configuration {@code vfio.emulator.edu}, served on the configured
 * socket for as long as the configuration exists.
 */
@Component(configurationPid = EduComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = EduComponent.Config.class, factory = true)
public final class EduComponent {
    static final String PID = "vfio.emulator.edu";

    @ObjectClassDefinition(name = "Emulated edu device",
            description = "Serves an emulation of QEMU's edu PCI device (1234:11e8) over vfio-user on a UNIX socket.")
    public @interface Config {
        @AttributeDefinition(name = "Socket path", description = "The UNIX socket to create (a stale one is replaced).")
        String socket_path();

        @AttributeDefinition(name = "Latency (ms)", description = "Delay before a factorial or a DMA completes.", min = "0")
        long latency_ms() default 1;
    }

    private final EduEmulator emulator;

    /** @throws IOException if the socket cannot be created: the configuration is then not active */
    @Activate
    public EduComponent(Config config) throws IOException {
        if (config.socket_path() == null || config.socket_path().isBlank()) {
            throw new IllegalArgumentException("configuration " + PID + " needs socket.path");
        }
        this.emulator = EduEmulator.start(Path.of(config.socket_path()), Duration.ofMillis(config.latency_ms()));
    }

    @Deactivate
    void deactivate() {
        emulator.close();
    }
}
