package vfio.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import vfio.backend.memory.MemoryBackend;

class CatalogTest {
    /** The API types a clause may cite; every clause names at least one. */
    private static final Pattern CITES = Pattern.compile(
            "\\b(BackendFactory|DeviceIoOps|OpenRequest|RegionInfo|IrqInfo|DeviceInfo|IrqSet|IrqSignal)\\b");

    @Test
    void everyCheckHasAUniqueIdInItsAreaAndCitesTheClauseItEnforces() {
        List<CheckInfo> checks = ConformanceKit.checks();
        assertThat(checks).hasSizeGreaterThanOrEqualTo(50);
        assertThat(checks).extracting(CheckInfo::id).doesNotHaveDuplicates()
                .allMatch(id -> id.matches("[a-z]+\\.[a-z0-9-]+"));
        assertThat(checks).allSatisfy(c -> {
            assertThat(c.id()).startsWith(c.area() + ".");
            assertThat(CITES.matcher(c.clause()).find()).as(c.id() + ": " + c.clause()).isTrue();
        });
    }

    @Test
    void aCheckThatIsNotTheKitsIsRefused() {
        ConformanceKit kit = ConformanceKit.of(Subject.of(new MemoryBackend("m", 1), "memory:unused"));
        assertThatThrownBy(() -> kit.run(new CheckInfo("no.such-check", "no", "DeviceIoOps.close")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no.such-check");
    }

    @Test
    void theReportTableHasOneRowPerCheckAndASummary() {
        CheckInfo a = new CheckInfo("a.one", "a", "DeviceIoOps.close: x");
        CheckInfo b = new CheckInfo("a.two", "a", "DeviceIoOps.reset: y");
        Report r = new Report("b", "memory:x", List.of(
                new CheckResult(a, Outcome.PASSED, "ok", java.time.Duration.ofMillis(3)),
                new CheckResult(b, Outcome.FAILED, "reset threw", java.time.Duration.ofMillis(4))));
        assertThat(r.passed()).isFalse();
        assertThat(r.table()).containsPattern("a\\.two\\s+FAILED\\s+4\\s+DeviceIoOps\\.reset: y")
                .contains("-> reset threw").contains("2 checks: 1 passed, 1 failed, 0 skipped");
    }
}
