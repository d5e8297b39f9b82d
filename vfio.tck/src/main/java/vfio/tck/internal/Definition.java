package vfio.tck.internal;

import vfio.tck.CheckInfo;

/**
 * A check: what it is and what it does.
 *
 * @param info the id, area and clause
 * @param body the check itself; reports through the {@link Probe}
 */
record Definition(CheckInfo info, Body body) {
    /** The code of a check. */
    @FunctionalInterface
    interface Body {
        /**
         * Runs the check. Problems go to {@link Probe#problem}; a {@link Problem} thrown ends the check
         * with that problem; {@link Probe#skip} ends it as skipped; any other exception is an
         * unexpected failure of the backend.
         */
        void run(Probe probe) throws Exception;
    }

    static Definition of(String id, String clause, Body body) {
        return new Definition(new CheckInfo(id, id.substring(0, id.indexOf('.')), clause), body);
    }
}
