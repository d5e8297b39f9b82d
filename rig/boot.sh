#!/bin/bash
# Boots a throwaway QEMU guest, runs one shell command in it as root and returns its exit code.
#
#   rig/boot.sh [--out DIR] [--devices LIST] [--timeout SECONDS] [--mode iommu|noiommu] -- COMMAND...
#
# The guest sees the host's root file system read-only (with a writable tmpfs overlay), so the
# host's JDK, ~/.m2 and this checkout are at the same paths. DIR (default: a new temporary
# directory) is shared writable at the same path; it receives console.log (kernel console),
# output.log (the command's output) and whatever the command writes there.
#
# --devices: QEMU devices to add and bind to vfio-pci, comma separated, from: edu, e1000e,
#   pci-testdev (default: all three).
# --mode iommu (default): q35 with an emulated Intel IOMMU (intremap on, intel_iommu=on), one
#   IOMMU group per device. noiommu: no IOMMU, vfio's unsafe no-IOMMU mode enabled (needs a guest
#   kernel with VFIO_NOIOMMU, see --kernel in README.md).
# Environment: VFIO_RIG_CACHE (cache directory), VFIO_RIG_ACCEL=auto|tcg|kvm (default auto: KVM
#   only if a probe boot with it works, the result cached), VFIO_RIG_KERNEL=debian|custom.
#
# Exit code: the command's; 124 if the guest did not finish within the timeout; 125 if the guest
# failed before running the command; 2 for a usage or setup error.
source "$(dirname "$0")/common.sh"

out="" devices="edu,e1000e,pci-testdev" timeout=600 mode=iommu
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2;;
        --devices) devices=$2; shift 2;;
        --timeout) timeout=$2; shift 2;;
        --mode) mode=$2; shift 2;;
        --) shift; break;;
        -h|--help) sed -n '2,22p' "$0"; exit 0;;
        *) rig_die "unknown option $1 (see --help)";;
    esac
done
[ $# -gt 0 ] || rig_die "no command given (usage: rig/boot.sh [options] -- command...)"
case "$mode" in iommu|noiommu) ;; *) rig_die "--mode must be iommu or noiommu, not $mode";; esac

rig_host_packages
kdir=$(rig_kernel_dir)
initramfs=$(rig_build_initramfs "$kdir")
kernel="$kdir/vmlinuz"
[ -f "$kernel" ] || kernel="$kdir/vmlinux"

if [ -z "$out" ]; then out=$(mktemp -d /tmp/vfio-rig-out.XXXXXX); fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/exit-code" "$out/console.log" "$out/output.log"
{
    echo '#!/bin/sh'
    echo 'export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8'
    echo "cd '$REPO_DIR'"
    printf 'exec'; printf ' %q' "$@"; echo
} >"$out/rig-command.sh"

qdevices=() ids=()
for d in $(echo "$devices" | tr , ' '); do
    case "$d" in
        # Without an IOMMU edu's DMA goes to physical addresses, which may lie above its default 28-bit mask.
        edu) if [ "$mode" = noiommu ]; then qdevices+=(-device edu,dma_mask=0xffffffffffff); else qdevices+=(-device edu); fi
             ids+=(1234:11e8);;
        e1000e) qdevices+=(-device e1000e); ids+=(8086:10d3);;
        pci-testdev) qdevices+=(-device pci-testdev); ids+=(1b36:0005);;
        *) rig_die "unknown device $d (known: edu, e1000e, pci-testdev)";;
    esac
done
idlist=$(IFS=,; echo "${ids[*]}")

# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can time out and
# panic ("timer doesn't work through Interrupt-remapped IO-APIC"); the timer works regardless.
append="console=ttyS0 panic=-1 no_timer_check quiet loglevel=4 rig.devices=$idlist rig.out=$out"
machine=(-machine q35)
if [ "$mode" = iommu ]; then
    append="$append intel_iommu=on"
    machine+=(-device intel-iommu,intremap=on)
else
    append="$append vfio.enable_unsafe_noiommu_mode=1"
fi

accel=$(rig_accel "$kdir" "$initramfs")
rig_log "booting ($accel, $mode, devices: $devices, timeout ${timeout}s)"
start=$(date +%s.%N)
for attempt in 1 2; do
    set +e
    timeout --kill-after=10 "$timeout" qemu-system-x86_64 \
        "${machine[@]}" $(rig_accel_args "$accel") -m 1536 -smp 2 \
        -nodefaults -display none -no-reboot \
        -kernel "$kernel" -initrd "$initramfs" -append "$append" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$out,mount_tag=rigout,security_model=none,multidevs=remap" \
        "${qdevices[@]}" \
        -serial "file:$out/console.log" -serial "file:$out/output.log" \
        >"$out/qemu.log" 2>&1
    qrc=$?
    set -e
    # A kernel that died before init ran the command is retried once (a boot-time flake under load).
    if [ "$attempt" = 1 ] && ! grep -q 'rig-init: running' "$out/console.log" 2>/dev/null \
        && grep -q 'Kernel panic' "$out/console.log" 2>/dev/null; then
        rig_log "the guest kernel panicked while booting; retrying once"
        cp "$out/console.log" "$out/console-panic.log"
        continue
    fi
    break
done
end=$(date +%s.%N)
rig_log "guest finished in $(echo "$end - $start" | bc 2>/dev/null || echo "?") s (qemu exit $qrc)"

if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
    rig_log "guest timed out after ${timeout}s; last console lines:"
    tail -20 "$out/console.log" >&2 || true
    exit 124
fi
if [ -f "$out/exit-code" ]; then
    exit "$(cat "$out/exit-code")"
fi
rc=$(sed -n 's/.*RIG-EXIT-CODE: \([0-9]*\).*/\1/p' "$out/console.log" 2>/dev/null | tail -1)
if [ -n "$rc" ]; then exit "$rc"; fi
rig_log "the guest did not report an exit code; qemu said:"
cat "$out/qemu.log" >&2 || true
tail -30 "$out/console.log" >&2 || true
exit 125
