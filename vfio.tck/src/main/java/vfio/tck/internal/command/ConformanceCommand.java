package vfio.tck.internal.command;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.apache.felix.service.command.Descriptor;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.OpenRequest;
import vfio.tck.ConformanceKit;
import vfio.tck.DeviceProfiles;
import vfio.tck.Hooks;
import vfio.tck.Outcome;
import vfio.tck.Report;
import vfio.tck.Subject;

/**
 * The Gogo command {@code vfio:conformance <backend-id> <address>}: runs the conformance kit against
 * the registered {@link BackendFactory} whose {@code vfio.backend.id} is {@code backend-id}, prints a
 * table (id, result, clause, message) and throws if a check failed, so that a scripted console exits
 * non-zero. Hooks come from {@link DeviceProfiles} when the device's PCI IDs are known.
 *
 * <p>The device must not be in use: the kit opens it directly on the factory, so a device the core
 * has bound to that backend would be opened twice (its configuration should be removed first).
 * Gogo's annotations are optional at runtime; without Gogo this component is simply never called.
 */
@Component(service = ConformanceCommand.class,
        property = {"osgi.command.scope=vfio", "osgi.command.function=conformance"})
public final class ConformanceCommand {
    private final BundleContext context;

    @Activate
    public ConformanceCommand(BundleContext context) {
        this.context = context;
    }

    /**
     * @return the summary line; the table goes to standard output
     * @throws IllegalStateException    naming the failed checks, if any failed
     * @throws IllegalArgumentException if no such backend is registered
     */
    @Descriptor("run the backend conformance kit against a registered backend and a device address;"
            + " fails if any check fails")
    public String conformance(@Descriptor("backend id (vfio.backend.id), e.g. vfio.backend.memory") String backendId,
            @Descriptor("device address, e.g. memory:tck0") String address) {
        ServiceReference<BackendFactory> ref = find(backendId);
        BackendFactory factory = context.getService(ref);
        if (factory == null) {
            throw new IllegalStateException("backend " + backendId + " went away; try again");
        }
        try {
            Subject subject = Subject.of(factory, address);
            subject = subject.withHooks(profile(subject));
            Report report = ConformanceKit.of(subject).runAll();
            PrintStream out = System.out;
            out.print(report.table());
            out.flush();
            List<String> failed = report.with(Outcome.FAILED).stream().map(r -> r.check().id()).toList();
            String summary = report.results().size() + " checks on " + backendId + " " + address + ": "
                    + report.with(Outcome.PASSED).size() + " passed, " + failed.size() + " failed, "
                    + report.with(Outcome.SKIPPED).size() + " skipped";
            if (!failed.isEmpty()) {
                throw new IllegalStateException(summary + "; failed: " + String.join(", ", failed));
            }
            return summary;
        } finally {
            context.ungetService(ref);
        }
    }

    private ServiceReference<BackendFactory> find(String backendId) {
        Collection<ServiceReference<BackendFactory>> refs;
        try {
            refs = context.getServiceReferences(BackendFactory.class,
                    "(" + BackendFactory.PROP_ID + "=" + escape(backendId) + ")");
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("bad backend id '" + backendId + "': " + e.getMessage(), e);
        }
        if (refs.isEmpty()) {
            List<String> ids = new ArrayList<>();
            try {
                for (ServiceReference<BackendFactory> r : context.getServiceReferences(BackendFactory.class, null)) {
                    ids.add(String.valueOf(r.getProperty(BackendFactory.PROP_ID)));
                }
            } catch (InvalidSyntaxException e) {
                throw new IllegalStateException(e);
            }
            throw new IllegalArgumentException("no backend with " + BackendFactory.PROP_ID + "=" + backendId
                    + " is registered; registered: " + ids);
        }
        return java.util.Collections.max(refs); // the highest ranking, as the core would choose
    }

    /** @return the hooks of a known device, or none (the kit then skips what needs them) */
    private static Hooks profile(Subject subject) {
        try (DeviceIoOps ops = subject.factory().open(new OpenRequest("vfio-tck", subject.address(),
                subject.timeout(), subject.options()))) {
            return DeviceProfiles.detect(ops).orElse(Hooks.none());
        } catch (RuntimeException e) {
            return Hooks.none(); // open.opens reports why the device cannot be opened
        }
    }

    private static String escape(String value) {
        StringBuilder b = new StringBuilder();
        for (char c : value.toCharArray()) {
            if (c == '\\' || c == '*' || c == '(' || c == ')') {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }
}
