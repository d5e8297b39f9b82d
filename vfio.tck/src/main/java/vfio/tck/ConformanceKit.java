package vfio.tck;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import vfio.tck.internal.Catalog;
import vfio.tck.internal.Runner;

/**
 * The conformance kit: runs the checks of {@link #checks()} against a {@link Subject}.
 *
 * <pre>{@code
 * Report report = ConformanceKit.of(Subject.of(new MyBackend(), "my:dev0")
 *         .withHooks(Hooks.none().withMemory(0, 0, 0x1000))).runAll();
 * System.out.print(report.table());
 * }</pre>
 *
 * <p>Each check opens the device itself (on its own daemon thread, with a deadline of {@link
 * Subject#checkTimeout()}) and closes it before it ends, so checks are independent and may run in any
 * order or alone. A backend call that hangs fails its check; the kit goes on with the next.
 *
 * <p><b>Threading:</b> an instance runs one check at a time per calling thread; do not run two
 * checks on the same device at once (checks count process-wide descriptors and mappings).
 */
public final class ConformanceKit {
    private final Subject subject;

    private ConformanceKit(Subject subject) {
        this.subject = subject;
    }

    /** @return a kit for the subject */
    public static ConformanceKit of(Subject subject) {
        if (subject == null) {
            throw new IllegalArgumentException("subject is required");
        }
        return new ConformanceKit(subject);
    }

    /** @return every check the kit has, in run order */
    public static List<CheckInfo> checks() {
        return Catalog.checks();
    }

    /** @return the subject */
    public Subject subject() {
        return subject;
    }

    /**
     * Runs one check.
     *
     * @param check one of {@link #checks()}
     * @return its result; never throws for a backend failure
     * @throws IllegalArgumentException if the check is not one of the kit's
     */
    public CheckResult run(CheckInfo check) {
        return Runner.run(check, subject);
    }

    /** @return the results of the checks accepted by {@code filter}, in run order */
    public Report run(Predicate<CheckInfo> filter) {
        List<CheckResult> results = new ArrayList<>();
        for (CheckInfo c : checks()) {
            if (filter.test(c)) {
                results.add(run(c));
            }
        }
        return new Report(subject.factory().id(), subject.address(), results);
    }

    /** @return the results of every check */
    public Report runAll() {
        return run(c -> true);
    }
}
