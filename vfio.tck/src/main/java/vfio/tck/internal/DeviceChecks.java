package vfio.tck.internal;

import java.util.List;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.device.DeviceInfo;
import vfio.api.device.NotSupportedException;
import vfio.tck.Hooks.KnownValue;
import vfio.tck.Hooks.Scratch;

/** {@link DeviceIoOps#reset} and {@link DeviceIoOps#deviceFeature}. */
final class DeviceChecks {
    /** A feature number no VFIO version defines (Linux uses 0 to 11 today). */
    static final int UNKNOWN_FEATURE = 0xfff0;

    private DeviceChecks() {
    }

    static List<Definition> definitions() {
        return List.of(
                Definition.of("reset.matches-flag",
                        "DeviceIoOps.reset: resets a device whose DeviceInfo has FLAG_RESET, which keeps answering;"
                                + " throws NotSupportedException on one without",
                        DeviceChecks::reset),
                Definition.of("feature.unsupported-rejected",
                        "DeviceIoOps.deviceFeature: a feature the device or backend lacks is a NotSupportedException"
                                + " (ENOTTY); without BackendCapability.DEVICE_FEATURE every feature is",
                        DeviceChecks::feature));
    }

    private static void reset(Probe p) {
        DeviceIoOps ops = p.open();
        DeviceInfo info = ops.deviceInfo();
        if (!info.canReset()) {
            String r = Io.throwsExactly("reset of a device without FLAG_RESET", NotSupportedException.class, ops::reset);
            p.expect(r == null, r);
            return;
        }
        try {
            ops.reset();
        } catch (RuntimeException e) {
            throw new Problem("reset of a device with FLAG_RESET threw " + Describe.exception(e));
        }
        p.expect(info.equals(ops.deviceInfo()), "deviceInfo changed across reset: " + info + " then " + ops.deviceInfo());
        for (KnownValue k : p.subject.hooks().knownValues()) {
            long got = Io.read(ops, k.region(), k.offset(), k.width());
            p.expect(got == Io.mask(k.value(), k.width()), "after reset the register at " + Describe.hex(k.offset())
                    + " of " + Describe.region(k.region()) + " reads " + Describe.hex(got));
        }
        for (Scratch s : p.subject.hooks().scratch()) {
            int w = s.memoryLike() ? 4 : s.registerSize();
            long v = Io.pattern(w);
            Io.write(ops, s.region(), s.offset(), w, v, false);
            p.expect(Io.read(ops, s.region(), s.offset(), w) == v, "after reset a round trip at "
                    + Describe.hex(s.offset()) + " of " + Describe.region(s.region()) + " failed");
        }
    }

    private static void feature(Probe p) {
        DeviceIoOps ops = p.open();
        boolean implemented = ops.capabilities().contains(BackendCapability.DEVICE_FEATURE);
        int[] flags = implemented
                ? new int[] {DeviceIoOps.FEATURE_GET | UNKNOWN_FEATURE,
                        DeviceIoOps.FEATURE_PROBE | DeviceIoOps.FEATURE_GET | UNKNOWN_FEATURE,
                        DeviceIoOps.FEATURE_PROBE | DeviceIoOps.FEATURE_SET | UNKNOWN_FEATURE}
                : new int[] {DeviceIoOps.FEATURE_PROBE | DeviceIoOps.FEATURE_GET | 1,
                        DeviceIoOps.FEATURE_GET | 1, DeviceIoOps.FEATURE_PROBE | DeviceIoOps.FEATURE_SET | UNKNOWN_FEATURE};
        for (int f : flags) {
            String what = "deviceFeature(" + Describe.hex(f) + ")" + (implemented ? " of an unknown feature"
                    : " without DEVICE_FEATURE");
            String r = Io.throwsExactly(what, NotSupportedException.class, () -> ops.deviceFeature(f, new byte[0]));
            p.expect(r == null, r);
        }
    }
}
