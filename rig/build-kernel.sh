#!/bin/bash
# Builds (once) a guest kernel with iommufd, VFIO device files and no-IOMMU support from Debian's
# linux-source-6.12 package and the options in rig/kernel.config, and prints the directory holding
# it (an ELF vmlinux that QEMU boots directly through its PVH entry). Cached under
# $VFIO_RIG_CACHE/kernel/custom-<source version>-<config hash>; about 7 minutes on 2 cores the first
# time. Debian's own kernel images lack IOMMUFD, VFIO_DEVICE_CDEV and VFIO_NOIOMMU.
source "$(dirname "$0")/common.sh"

rig_ensure_packages linux-source-6.12 flex bison bc libelf-dev libssl-dev make gcc xz-utils
version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$(rig_hash "$version" "$RIG_DIR/kernel.config")
dir="$VFIO_RIG_CACHE/kernel/custom-$version-$key"
if [ -f "$dir/.complete" ]; then
    echo "$dir"
    exit 0
fi
(
    flock 9
    [ -f "$dir/.complete" ] && exit 0
    rig_log "building a 6.12 guest kernel ($version) in $dir.build (about 7 minutes)"
    rm -rf "$dir.build" && mkdir -p "$dir.build"
    tar -C "$dir.build" -xf /usr/src/linux-source-6.12.tar.xz
    src=$(ls -d "$dir.build"/linux-source-6.12)
    cd "$src"
    make -s x86_64_defconfig >&2
    while IFS= read -r line; do
        line=${line%%#*}; [ -n "$line" ] || continue
        opt=${line%%=*} val=${line#*=}
        case "$val" in
            y) scripts/config --enable "$opt";;
            n) scripts/config --disable "$opt";;
            *) scripts/config --set-val "$opt" "$val";;
        esac
    done <"$RIG_DIR/kernel.config"
    make -s olddefconfig >&2
    missing=""
    while IFS= read -r line; do
        line=${line%%#*}; [ -n "$line" ] || continue
        opt=${line%%=*} val=${line#*=}
        [ "$val" = y ] && ! grep -q "^CONFIG_$opt=y" .config && missing="$missing $opt"
    done <"$RIG_DIR/kernel.config"
    [ -z "$missing" ] || rig_die "the kernel configuration dropped:$missing"
    nice -n 10 make -s -j"$(nproc)" vmlinux >&2
    mkdir -p "$dir"
    cp vmlinux "$dir/vmlinux"
    cp .config "$dir/config"
    cd /
    rm -rf "$dir.build"
    touch "$dir/.complete"
) 9>"$VFIO_RIG_CACHE/.kernel-build.lock"
echo "$dir"
