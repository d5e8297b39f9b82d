package vfio.tck;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import vfio.api.backend.BackendFactory;
import vfio.backend.memory.MemoryBackend;
import vfio.tck.broken.SeededDefects;
import vfio.tck.broken.SeededDefects.Defect;

/**
 * Proves the kit: it passes the conforming memory backend with no failure and rejects every
 * deliberately broken one, each by at least one failing check, and says whether the check naming
 * the violated clause was among them.
 */
class SeededDefectsTest {
    /** Short, so the defect that hangs costs seconds, not half a minute; the memory device answers at once. */
    static final Duration TIMEOUT = Duration.ofSeconds(1);
    static final Duration QUIET = Duration.ofMillis(20);
    private static final MemoryDevices DEVICES = new MemoryDevices();
    private static final BackendFactory MEMORY = new MemoryBackend("vfio.backend.memory", 100);

    @AfterAll
    static void deleteDevices() throws Exception {
        DEVICES.close();
    }

    static Report run(BackendFactory factory, String purpose) {
        return ConformanceKit.of(Subject.of(factory, DEVICES.fresh(purpose)).withHooks(DeviceProfiles.memoryDevice())
                .withTimeout(TIMEOUT).withQuietPeriod(QUIET)).runAll();
    }

    @Test
    void theConformingMemoryBackendPassesEveryCheck() {
        Report report = run(SeededDefects.conforming(MEMORY), "conforming");
        System.out.print(report.table());
        assertThat(report.with(Outcome.FAILED)).as(report.table()).isEmpty();
        // only the checks for capabilities the memory backend has not are skipped
        assertThat(report.with(Outcome.SKIPPED)).extracting(r -> r.check().id())
                .containsExactlyInAnyOrder("map.not-supported-without-capability", "dma.not-supported-without-capability");
    }

    @Test
    void theKitRejectsEverySeededDefect() {
        List<Defect> defects = SeededDefects.all();
        Set<String> ids = ConformanceKit.checks().stream().map(CheckInfo::id).collect(Collectors.toSet());
        assertThat(defects).allSatisfy(d -> assertThat(ids).as(d.name()).contains(d.expectedBy()));
        List<String> missed = new ArrayList<>();
        List<String> wrongClause = new ArrayList<>();
        StringBuilder lines = new StringBuilder();
        for (Defect d : defects) {
            Report report = run(d.on(SeededDefects.conforming(MEMORY)), "defect");
            List<String> failed = report.with(Outcome.FAILED).stream().map(r -> r.check().id()).toList();
            boolean named = failed.contains(d.expectedBy());
            if (failed.isEmpty()) {
                missed.add(d.name());
            } else if (!named) {
                wrongClause.add(d.name() + " (expected " + d.expectedBy() + ", failed " + failed + ")");
            }
            String how = report.result(d.expectedBy()).map(CheckResult::message).orElse("");
            lines.append(String.format("%-36s %-7s by %s%n    %s%n    %s: %s%n", d.name(), failed.isEmpty() ? "MISSED"
                    : "caught", failed, d.defect(), d.expectedBy(), how.length() > 300 ? how.substring(0, 300) + "..." : how));
        }
        int caught = defects.size() - missed.size();
        int byClause = caught - wrongClause.size();
        System.out.print(lines);
        System.out.printf("kit caught %d of %d seeded defects (%d by the check naming the violated clause)%n", caught,
                defects.size(), byClause);
        assertThat(missed).as("defects the kit missed").isEmpty();
        assertThat(wrongClause).as("defects caught, but not by the check of the clause they violate").isEmpty();
    }
}
