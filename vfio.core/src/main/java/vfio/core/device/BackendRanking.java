package vfio.core.device;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import vfio.api.backend.Match;

/**
 * Orders backend factories for one address: highest {@link Match#score()} first, then higher {@code
 * service.ranking}, then lower {@code service.id} (the older service).
 */
public final class BackendRanking {
    /** Best candidate first. */
    public static final Comparator<Ranked> BEST_FIRST = Comparator
            .comparingInt((Ranked r) -> -r.match().score())
            .thenComparingInt(r -> -r.candidate().ranking())
            .thenComparingLong(r -> r.candidate().serviceId());

    private BackendRanking() {
    }

    /**
     * Asks every candidate how well it matches. A {@code match} that throws counts as no match, with
     * the exception as reason.
     *
     * @return every candidate with its match, best first (non-matching ones last, for messages)
     */
    public static List<Ranked> rank(Collection<BackendCandidate> candidates, String address) {
        List<Ranked> ranked = new ArrayList<>(candidates.size());
        for (BackendCandidate c : candidates) {
            Match m;
            try {
                m = c.factory().match(address);
                if (m == null) {
                    m = Match.no("match() returned null");
                }
            } catch (RuntimeException e) {
                m = Match.no("match() threw " + e);
            }
            ranked.add(new Ranked(c, m));
        }
        ranked.sort(BEST_FIRST);
        return ranked;
    }

    /**
     * A candidate with its match for an address.
     *
     * @param candidate the factory
     * @param match     its answer
     */
    public record Ranked(BackendCandidate candidate, Match match) {
        /** @return e.g. {@code vfio.backend.user (score 100, ranking 0)} */
        public String describe() {
            return candidate.id() + " (score " + match.score() + ", ranking " + candidate.ranking() + ")";
        }
    }
}
