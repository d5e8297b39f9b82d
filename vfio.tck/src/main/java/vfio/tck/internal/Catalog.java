package vfio.tck.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import vfio.tck.CheckInfo;

/** Every check of the kit, in the order they run: cheap and basic first, threads last. */
public final class Catalog {
    private static final Map<String, Definition> DEFINITIONS = load();

    private Catalog() {
    }

    private static Map<String, Definition> load() {
        List<Definition> all = new ArrayList<>();
        all.addAll(MatchChecks.definitions());
        all.addAll(LifecycleChecks.definitions());
        all.addAll(InfoChecks.definitions());
        all.addAll(BoundsChecks.definitions());
        all.addAll(RegionChecks.definitions());
        all.addAll(MapChecks.definitions());
        all.addAll(IrqChecks.definitions());
        all.addAll(DmaChecks.definitions());
        all.addAll(DeviceChecks.definitions());
        all.addAll(PostedChecks.definitions());
        all.addAll(ConcurrencyChecks.definitions());
        Map<String, Definition> byId = new LinkedHashMap<>();
        for (Definition d : all) {
            if (byId.put(d.info().id(), d) != null) {
                throw new IllegalStateException("two checks with id " + d.info().id());
            }
        }
        return byId;
    }

    /** @return every check, in run order */
    public static List<CheckInfo> checks() {
        return DEFINITIONS.values().stream().map(Definition::info).toList();
    }

    static Definition definition(String id) {
        Definition d = DEFINITIONS.get(id);
        if (d == null) {
            throw new IllegalArgumentException("the kit has no check '" + id + "'; see ConformanceKit.checks()");
        }
        return d;
    }
}
