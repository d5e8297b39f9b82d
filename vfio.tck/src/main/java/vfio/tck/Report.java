package vfio.tck;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The results of a kit run, in check order.
 *
 * @param backendId the factory's {@link vfio.api.backend.BackendFactory#id()}
 * @param address   the device address
 * @param results   one result per check that ran
 */
public record Report(String backendId, String address, List<CheckResult> results) {
    public Report {
        results = List.copyOf(results);
    }

    /** @return the results with the given outcome */
    public List<CheckResult> with(Outcome outcome) {
        return results.stream().filter(r -> r.outcome() == outcome).collect(Collectors.toUnmodifiableList());
    }

    /** @return whether no check failed */
    public boolean passed() {
        return with(Outcome.FAILED).isEmpty();
    }

    /** @return the result of the check with this id, if it ran */
    public java.util.Optional<CheckResult> result(String checkId) {
        return results.stream().filter(r -> r.check().id().equals(checkId)).findFirst();
    }

    /** @return one line per check (id, outcome, clause, message) and a summary line */
    public String table() {
        int idWidth = results.stream().mapToInt(r -> r.check().id().length()).max().orElse(2);
        StringBuilder b = new StringBuilder();
        b.append("Conformance of backend ").append(backendId).append(" on ").append(address).append('\n');
        String format = "%-" + idWidth + "s  %-7s  %6s  %s%n";
        b.append(String.format(Locale.ROOT, format, "ID", "RESULT", "MS", "CLAUSE / MESSAGE"));
        for (CheckResult r : results) {
            b.append(String.format(Locale.ROOT, format, r.check().id(), r.outcome(), r.elapsed().toMillis(),
                    r.check().clause()));
            b.append(String.format(Locale.ROOT, format, "", "", "", "-> " + r.message()));
        }
        b.append(String.format(Locale.ROOT, "%d checks: %d passed, %d failed, %d skipped%n", results.size(),
                with(Outcome.PASSED).size(), with(Outcome.FAILED).size(), with(Outcome.SKIPPED).size()));
        return b.toString();
    }
}
