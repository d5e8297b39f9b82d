#!/bin/bash
# Runs the JUnit tests tagged "guest" of vfio.backend.ioctl against the real vfio-pci driver inside
# a throwaway QEMU guest, and reports like Surefire.
#
#   rig/run-guest-tests.sh [--mode iommu|noiommu] [--iommu auto|group|iommufd] [--kernel debian|custom]
#                          [--no-build] [--timeout SECONDS] [--reports DIR] [--select CLASS]
#                          [--classpath CP]
#
# Steps: compile the module's classes and tests on the host (Maven, offline when it can), resolve
# the test class path and the JUnit console launcher (org.junit.platform:junit-platform-console-
# standalone, fetched into ~/.m2 by Maven), boot the guest with edu, e1000e and pci-testdev bound to
# vfio-pci, run the launcher there as root with the host's JDK, and bring back the XML report.
#
# --iommu: the backend option the tests open devices with (default auto); --mode: guest IOMMU
# configuration (see boot.sh); --kernel: debian (default, stock Debian 6.1) or custom (Linux 6.12
# built by rig/build-kernel.sh, with iommufd, VFIO device files and no-IOMMU support).
# Reports: DIR (default vfio.backend.ioctl/target/guest-tests/<kernel>-<mode>-<iommu>) gets
# reports/TEST-junit-jupiter.xml, output.log (the launcher's output) and console.log.
# --classpath: the module's test class path as Maven resolved it (the Maven build passes it, so a
# reactor build needs nothing installed in ~/.m2); without it the script asks Maven itself.
# Exit code: 0 if every test passed, 1 if a test failed, others as boot.sh.
source "$(dirname "$0")/common.sh"

module=vfio.backend.ioctl
mode=iommu iommu=auto build=1 timeout=900 reports="" select="" classpath="" kernel=${VFIO_RIG_KERNEL:-debian}
while [ $# -gt 0 ]; do
    case "$1" in
        --mode) mode=$2; shift 2;;
        --iommu) iommu=$2; shift 2;;
        --kernel) kernel=$2; shift 2;;
        --no-build) build=0; shift;;
        --timeout) timeout=$2; shift 2;;
        --reports) reports=$2; shift 2;;
        --select) select=$2; shift 2;;
        --classpath) classpath=$2; build=0; shift 2;;
        -h|--help) sed -n '2,20p' "$0"; exit 0;;
        *) rig_die "unknown option $1 (see --help)";;
    esac
done
export VFIO_RIG_KERNEL=$kernel
reports=${reports:-$REPO_DIR/$module/target/guest-tests/$kernel-$mode-$iommu}
junit_version=1.10.2

mvn_try() {
    # Offline first (fast, no network); online only if something is missing from ~/.m2.
    (cd "$REPO_DIR" && mvn -q -o "$@") || (cd "$REPO_DIR" && mvn -q "$@")
}

if [ "$build" = 1 ]; then
    rig_log "compiling $module and its tests on the host"
    mvn_try -pl "$module" test-compile >&2
fi
[ -d "$REPO_DIR/$module/target/test-classes" ] || rig_die "no $module/target/test-classes: run without --no-build"

mkdir -p "$reports"
rm -rf "$reports/reports"
if [ -n "$classpath" ]; then
    printf '%s' "$classpath" >"$reports/classpath.txt"
else
    mvn_try -pl "$module" dependency:build-classpath -Dmdep.outputFile="$reports/classpath.txt" -Dmdep.includeScope=test >&2
fi
jar="${HOME:-/root}/.m2/repository/org/junit/platform/junit-platform-console-standalone/$junit_version/junit-platform-console-standalone-$junit_version.jar"
if [ ! -f "$jar" ]; then
    rig_log "fetching the JUnit console launcher $junit_version"
    (cd "$REPO_DIR" && mvn -q dependency:get -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_version") >&2
fi
[ -f "$jar" ] || rig_die "cannot find $jar"

# Snapshot the class path: other builds may reinstall jars in ~/.m2 while the guest reads them.
rm -rf "$reports/classpath" && mkdir -p "$reports/classpath/lib"
cp -r "$REPO_DIR/$module/target/test-classes" "$REPO_DIR/$module/target/classes" "$reports/classpath/"
cp="$reports/classpath/test-classes:$reports/classpath/classes"
IFS=: read -r -a deps <"$reports/classpath.txt" || true  # no newline at the end
n=0
for d in "${deps[@]}"; do
    [ -n "$d" ] || continue
    case "$d" in "$REPO_DIR/$module/target/"*) continue;; esac   # copied above
    if [ -d "$d" ]; then   # another reactor module's classes (a build that did not package)
        n=$((n + 1)); cp -r "$d" "$reports/classpath/lib/dir$n"
        cp="$cp:$reports/classpath/lib/dir$n"
    else
        cp "$d" "$reports/classpath/lib/"
        cp="$cp:$reports/classpath/lib/$(basename "$d")"
    fi
done
selection=(--scan-class-path "$reports/classpath/test-classes" --include-tag guest)
[ -n "$select" ] && selection=(--select-class "$select" --include-tag guest)

java=$(readlink -f "$(command -v java)")
start=$(date +%s)
set +e
"$RIG_DIR/boot.sh" --out "$reports" --mode "$mode" --timeout "$timeout" -- \
    "$java" --enable-native-access=ALL-UNNAMED -Xshare:auto -XX:TieredStopAtLevel=1 \
    -Dvfio.rig=true -Dvfio.test.iommu="$iommu" -Dvfio.test.mode="$mode" \
    -jar "$jar" execute --class-path "$cp" "${selection[@]}" \
    --reports-dir "$reports/reports" --disable-banner --disable-ansi-colors --details=tree --details-theme=ascii
rc=$?
set -e
end=$(date +%s)
cat "$reports/output.log" >&2 || true

xml="$reports/reports/TEST-junit-jupiter.xml"
if [ ! -f "$xml" ]; then
    rig_log "no test report came back (exit code $rc); see $reports/console.log"
    [ "$rc" -eq 0 ] && rc=125
    exit "$rc"
fi
attr() { sed -n "s/.*<testsuite [^>]*\b$1=\"\([0-9]*\)\".*/\1/p" "$xml" | head -1; }
tests=$(attr tests) failures=$(attr failures) errors=$(attr errors) skipped=$(attr skipped)
passed=$((tests - failures - errors - skipped))
rig_log "guest tests ($kernel kernel, $mode, iommu=$iommu): boot + tests took $((end - start)) s; report $xml"
echo "guest: $passed passed, $((failures + errors)) failed, $skipped skipped"
if [ "$rc" -ne 0 ] || [ $((failures + errors)) -ne 0 ]; then
    exit 1
fi
exit 0
