package vfio.console.internal;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.Callable;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import vfio.api.device.Device;
import vfio.api.device.DeviceState;

/**
 * The console of the exported platform jar. bnd's launcher runs a {@code main.thread} service on the
 * JVM's main thread once every bundle has started and exits with its result, so:
 * <ul>
 * <li>{@code java -jar vfio-platform.jar vfio:devices} runs the command line given as arguments,
 * prints the result and exits 0, or prints the error and exits 1;</li>
 * <li>with commands on standard input (not a terminal), it runs them line by line and stops at the
 * first failure with exit code 1 (0 after the last line);</li>
 * <li>on a terminal it is an interactive prompt until {@code exit} or end of input.</li>
 * </ul>
 * Before the first command it waits (at most {@link #SETTLE}) until every configured device has left
 * the unbound state, so a script sees the devices the platform starts with.
 *
 * <p>Only active under bnd's launcher (it needs the launcher's service), never in Pax Exam or Karaf.
 */
@Component(service = Callable.class, property = "main.thread=true")
public final class Console implements Callable<Integer> {
    static final Duration SETTLE = Duration.ofSeconds(10);
    private static final String PROMPT = "vfio> ";

    private final CommandProcessor processor;
    private final ConfigurationAdmin configAdmin;
    private final BundleContext context;
    private final String[] arguments;

    @Activate
    public Console(@Reference CommandProcessor processor,
            @Reference(service = Object.class, target = "(launcher.arguments=*)") ServiceReference<Object> launcher,
            @Reference ConfigurationAdmin configAdmin, BundleContext context) {
        this.processor = processor;
        this.configAdmin = configAdmin;
        this.context = context;
        Object args = launcher.getProperty("launcher.arguments");
        this.arguments = args instanceof String[] a ? a : new String[0];
    }

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        try (CommandSession session = processor.createSession(System.in, out, System.err)) {
            awaitDevicesSettled();
            if (arguments.length > 0) {
                return run(session, String.join(" ", arguments), out) ? 0 : 1;
            }
            boolean interactive = isTerminal();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            if (interactive) {
                out.println("VFIO platform. Type 'vfio:help' for the device commands, 'exit' to leave.");
            }
            while (true) {
                if (interactive) {
                    out.print(PROMPT);
                    out.flush();
                }
                String line = in.readLine();
                if (line == null || line.trim().equals("exit")) {
                    return 0;
                }
                if (line.isBlank() || line.trim().startsWith("#")) {
                    continue;
                }
                if (!run(session, line, out) && !interactive) {
                    return 1;
                }
            }
        }
    }

    private static boolean run(CommandSession session, String line, PrintStream out) {
        try {
            Object result = session.execute(line);
            if (result != null) {
                out.println(session.format(result, Converter.INSPECT));
            }
            return true;
        } catch (Exception e) {
            System.err.println("error: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return false;
        }
    }

    private void awaitDevicesSettled() throws Exception {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        while (System.nanoTime() < deadline) {
            // ConfigAdmin hands configurations to the core asynchronously: count them too.
            Configuration[] configs = configAdmin.listConfigurations("(service.factoryPid=vfio.device)");
            Collection<ServiceReference<Device>> refs = context.getServiceReferences(Device.class, null);
            boolean settled = refs.size() >= (configs == null ? 0 : configs.length);
            for (ServiceReference<Device> ref : refs) {
                if (DeviceState.UNBOUND.name().equals(ref.getProperty(Device.PROP_STATE))) {
                    settled = false;
                }
            }
            if (settled) {
                return;
            }
            Thread.sleep(20);
        }
    }

    /** Java 22+ returns a Console even when redirected; ask it whether it is a terminal. */
    private static boolean isTerminal() {
        java.io.Console c = System.console();
        if (c == null) {
            return false;
        }
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(c);
        } catch (ReflectiveOperationException e) {
            return true; // Java 17-21: non-null means a terminal
        }
    }
}
