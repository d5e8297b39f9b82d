#!/bin/sh
# The guest's init (PID 1, busybox sh). Loads the modules, binds the chosen PCI devices to
# vfio-pci, mounts the host's root read-only (9p) under a tmpfs overlay, mounts the writable
# output share at the host path given as rig.out=, runs <out>/rig-command.sh as root inside that
# root, reports its exit code and powers off. Parameters come from the kernel command line:
#   rig.devices=VVVV:DDDD,...   vendor:device ids to bind to vfio-pci
#   rig.out=/host/path          where the writable share is mounted (same path as on the host)
#   module.param=value          passed to insmod of that module (as the kernel does for built-ins)
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "rig-init: $*" > /dev/console; }
fail() { say "$*"; echo "RIG-EXIT-CODE: 125" > /dev/console; poweroff -f; }

cmdline=$(cat /proc/cmdline)
arg() { for w in $cmdline; do case "$w" in "$1="*) echo "${w#*=}"; return;; esac; done; }

for f in $(cat /modules.list); do
    m=$(basename "$f"); m=${m%%.ko*}; mu=$(echo "$m" | tr - _)
    params=""
    for w in $cmdline; do
        case "$w" in "$m."*=*|"$mu."*=*) params="$params ${w#*.}";; esac
    done
    # shellcheck disable=SC2086
    insmod "/lib/modules/$f" $params 2>/dev/console || say "insmod $f failed"
done

devices=$(arg rig.devices)
for id in $(echo "$devices" | tr , ' '); do
    vendor=${id%%:*}; device=${id##*:}
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor")" = "0x$vendor" ] && [ "$(cat "$d/device")" = "0x$device" ] || continue
        bdf=${d##*/}
        [ -e "$d/driver" ] && echo "$bdf" > "$d/driver/unbind"
        echo vfio-pci > "$d/driver_override"
        echo "$bdf" > /sys/bus/pci/drivers_probe
        drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
        group=$(basename "$(readlink "$d/iommu_group" 2>/dev/null)" 2>/dev/null)
        say "$bdf ($vendor:$device) bound to ${drv:-nothing}, IOMMU group ${group:-none}"
    done
done

mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro hostroot /host || fail "cannot mount the host root (9p)"
mount -t tmpfs -o size=256m tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "cannot mount the overlay"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/tmp /newroot/dev/shm && mount -t tmpfs tmpfs /newroot/tmp
out=$(arg rig.out)
[ -n "$out" ] || fail "no rig.out= on the kernel command line"
mkdir -p "/newroot$out"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 rigout "/newroot$out" || fail "cannot mount the output share"

stty -F /dev/ttyS1 raw -echo 2>/dev/null
say "running $out/rig-command.sh"
chroot /newroot /bin/sh "$out/rig-command.sh" > /dev/ttyS1 2>&1 < /dev/null
rc=$?
echo "$rc" > "/newroot$out/exit-code"
sync
umount "/newroot$out" 2>/dev/null
echo "RIG-EXIT-CODE: $rc" > /dev/console
poweroff -f
