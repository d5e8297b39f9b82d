package vfio.tck.internal;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.Match;

/** {@link BackendFactory#match}: cheap, never throwing, explaining a non-match. */
final class MatchChecks {
    /** A match call slower than this is not "cheap". Generous: it only catches device I/O and waits. */
    static final long SLOW_MATCH_MS = 1000;
    private static final String FOREIGN_SCHEME = "tck-no-such-scheme:";

    private MatchChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("match.own-address",
                        "BackendFactory.match: a score above 0 for an address open is expected to succeed on",
                        MatchChecks::ownAddress),
                Definition.of("match.foreign-addresses",
                        "BackendFactory.match: an address it cannot serve gets Match.no with a reason a person can act on;"
                                + " odd input never throws",
                        MatchChecks::foreignAddresses),
                Definition.of("match.cheap",
                        "BackendFactory (threading): match must be cheap (no device I/O that can hang) and side-effect free"
                                + " (no descriptor left open)",
                        MatchChecks::cheap));
    }

    private static void ownAddress(Probe p) {
        Match m = p.subject.factory().match(p.subject.address());
        if (m == null) {
            throw new Problem("match(\"" + p.subject.address() + "\") returned null");
        }
        p.expect(m.matches(), "match(\"" + p.subject.address() + "\") scored 0 (" + m.reason()
                + ") for the subject's own address");
        p.note("score " + m.score() + " (" + m.reason() + ")");
    }

    private static void foreignAddresses(Probe p) {
        BackendFactory f = p.subject.factory();
        String own = p.subject.address();
        List<String> foreign = List.of("", FOREIGN_SCHEME + "device0", "x".repeat(65536), "\u0000\u0001\n",
                FOREIGN_SCHEME + own);
        for (String a : foreign) {
            String shown = show(a);
            try {
                Match m = f.match(a);
                if (m == null) {
                    p.problem("match(" + shown + ") returned null; use Match.no(reason)");
                } else if (m.matches()) {
                    p.problem("match(" + shown + ") scored " + m.score() + " for an address no backend can serve");
                } else if (m.reason().isBlank()) {
                    p.problem("match(" + shown + ") gave no reason; say why and what to do");
                }
            } catch (RuntimeException e) {
                p.problem("match(" + shown + ") threw " + Describe.exception(e) + "; return Match.no(reason)");
            }
        }
        int colon = own.indexOf(':');
        List<String> odd = List.of(own + "\u0000", own + "/../../../../etc/passwd", own.toUpperCase(Locale.ROOT),
                own + " ", colon >= 0 ? own.substring(0, colon + 1) : own + ":");
        for (String a : odd) {
            try {
                if (f.match(a) == null) {
                    p.problem("match(" + show(a) + ") returned null");
                }
            } catch (RuntimeException e) {
                p.problem("match(" + show(a) + ") threw " + Describe.exception(e) + "; return Match.no(reason)");
            }
        }
    }

    private static void cheap(Probe p) {
        BackendFactory f = p.subject.factory();
        String[] addresses = {p.subject.address(), FOREIGN_SCHEME + "device0"};
        f.match(addresses[0]);
        Set<String> before = ProcSelf.available() ? ProcSelf.descriptors() : Set.of();
        long slowest = 0;
        for (int i = 0; i < 100; i++) {
            long t0 = System.nanoTime();
            f.match(addresses[i & 1]);
            slowest = Math.max(slowest, System.nanoTime() - t0);
        }
        p.expect(slowest / 1_000_000 < SLOW_MATCH_MS, "the slowest of 100 match calls took " + slowest / 1_000_000
                + " ms; match must not do device I/O or wait");
        if (ProcSelf.available()) {
            Set<String> grown = new TreeSet<>(ProcSelf.descriptors());
            grown.removeAll(before);
            p.expect(grown.size() < 10, "100 match calls left " + grown.size() + " more descriptors open: "
                    + grown.stream().limit(5).toList());
        }
        p.note("slowest of 100 calls " + slowest / 1000 + " us");
    }

    private static String show(String a) {
        String s = a.length() > 40 ? a.substring(0, 40) + "...(" + a.length() + " chars)" : a;
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            b.append(c < 0x20 ? String.format(Locale.ROOT, "\\u%04x", (int) c) : String.valueOf(c));
        }
        return b.append('"').toString();
    }
}
