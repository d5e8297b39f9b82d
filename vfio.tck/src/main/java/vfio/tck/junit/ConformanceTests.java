package vfio.tck.junit;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import vfio.tck.CheckInfo;
import vfio.tck.CheckResult;
import vfio.tck.ConformanceKit;
import vfio.tck.Outcome;
import vfio.tck.Subject;

/**
 * Turns the kit into JUnit 5 dynamic tests: one container per area, one test per check, run lazily
 * when JUnit executes it. A failed check fails its test with the clause and every problem found; a
 * skipped check is reported as aborted (skipped), never as passed.
 */
public final class ConformanceTests {
    private ConformanceTests() {
    }

    /**
     * @param subject the backend and device to check
     * @return one {@link DynamicContainer} per area (match, open, close, info, bounds, region, map,
     *         irq, dma, reset, feature, posted, concurrency) holding a {@link DynamicTest} per check
     */
    public static Stream<DynamicNode> of(Subject subject) {
        return of(subject, c -> true);
    }

    /**
     * As {@link #of(Subject)}, with only the checks {@code filter} accepts (to leave out one that a
     * backend with a known, reported bug would crash the test JVM in).
     */
    public static Stream<DynamicNode> of(Subject subject, Predicate<CheckInfo> filter) {
        ConformanceKit kit = ConformanceKit.of(subject);
        Map<String, List<CheckInfo>> byArea = new LinkedHashMap<>();
        for (CheckInfo c : ConformanceKit.checks()) {
            if (filter.test(c)) {
                byArea.computeIfAbsent(c.area(), a -> new java.util.ArrayList<>()).add(c);
            }
        }
        return byArea.entrySet().stream().map(e -> DynamicContainer.dynamicContainer(e.getKey(),
                e.getValue().stream().map(c -> DynamicTest.dynamicTest(c.id(), () -> execute(kit, c)))));
    }

    private static void execute(ConformanceKit kit, CheckInfo check) {
        CheckResult r = kit.run(check);
        if (r.outcome() == Outcome.FAILED) {
            Assertions.fail(check.id() + " violates " + check.clause() + ": " + r.message());
        }
        if (r.outcome() == Outcome.SKIPPED) {
            Assumptions.abort(check.id() + " skipped: " + r.message());
        }
    }
}
