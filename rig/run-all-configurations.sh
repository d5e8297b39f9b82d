#!/bin/bash
# Runs the guest tests in every kernel configuration this machine can: always the stock Debian
# kernel with the IOMMU (legacy group API); and the custom Linux 6.12 kernel (iommufd device files,
# group API on the same kernel, no-IOMMU mode) when it is already built and cached, or when
# VFIO_RIG_CUSTOM=1 asks for it (the first build takes 7+ minutes). Writes a Markdown summary.
#
#   rig/run-all-configurations.sh [--classpath CP]     (Maven passes CP; see vfio.backend.ioctl/pom.xml)
#
# Skips everything, successfully, when VFIO_GUEST_TESTS=skip. Exit code: non-zero if any ran and failed.
source "$(dirname "$0")/common.sh"
[ "${VFIO_GUEST_TESTS:-run}" = skip ] && { rig_log "guest tests skipped (VFIO_GUEST_TESTS=skip)"; exit 0; }

args=("$@")
out="$REPO_DIR/vfio.backend.ioctl/target/guest-tests"
mkdir -p "$out"
summary="$out/summary.md"
printf '| kernel | mode | API | result | date |\n|---|---|---|---|---|\n' >"$summary"
failed=0

run() { # kernel mode iommu
    local line rc
    set +e
    line=$("$RIG_DIR/run-guest-tests.sh" --kernel "$1" --mode "$2" --iommu "$3" "${args[@]}" | tail -1)
    rc=${PIPESTATUS[0]}
    set -e
    echo "$line"
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "${line:-no result (exit $rc)}" "$(date -u +%F)" >>"$summary"
    [ "$rc" -eq 0 ] || failed=1
}

run debian iommu group
if [ "${VFIO_RIG_CUSTOM:-0}" = 1 ] || ls -d "$VFIO_RIG_CACHE"/kernel/custom-* >/dev/null 2>&1; then
    run custom iommu iommufd
    run custom iommu group
    run custom noiommu auto
else
    rig_log "custom 6.12 kernel not cached: iommufd and no-IOMMU configurations not run (VFIO_RIG_CUSTOM=1 builds it)"
    printf '| custom 6.12 | - | iommufd, group, no-IOMMU | not run: kernel not cached | %s |\n' "$(date -u +%F)" >>"$summary"
fi
cat "$summary" >&2
exit $failed
