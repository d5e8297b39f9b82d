# shellcheck shell=bash
# Shared helpers of the guest rig. Sourced by the rig's scripts, never run by itself.
#
# Everything the rig builds or downloads lives under $VFIO_RIG_CACHE (default ~/.cache/vfio-rig),
# outside the repository, keyed so that a change of input makes a new entry instead of reusing a
# stale one. Every step is idempotent: a second run reuses what the first one made.

set -euo pipefail

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$RIG_DIR/.." && pwd)
VFIO_RIG_CACHE=${VFIO_RIG_CACHE:-${HOME:-/root}/.cache/vfio-rig}
mkdir -p "$VFIO_RIG_CACHE"

rig_log() { printf 'rig: %s\n' "$*" >&2; }
rig_die() { printf 'rig: error: %s\n' "$*" >&2; exit 2; }

# Installs Debian packages that are missing (the rig must work on a fresh Debian 12 machine).
# Serialised with a lock because several rig runs may start at once.
rig_ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || rig_die "missing packages ${missing[*]}; install them as root (apt-get install ${missing[*]})"
    rig_log "installing ${missing[*]}"
    (
        flock 9
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    ) 9>"$VFIO_RIG_CACHE/.apt.lock"
}

rig_host_packages() {
    rig_ensure_packages qemu-system-x86 busybox-static cpio gzip
}

# The Debian kernel package behind linux-image-amd64, e.g. linux-image-6.1.0-56-amd64.
rig_debian_kernel_package() {
    if [ -n "${VFIO_RIG_KERNEL_PACKAGE:-}" ]; then
        echo "$VFIO_RIG_KERNEL_PACKAGE"
        return
    fi
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$pkg" ] || rig_die "cannot find the kernel package behind linux-image-amd64 (apt-get update?)"
    echo "$pkg"
}

# Downloads and unpacks a Debian kernel image package (never installs it). Prints the directory
# holding vmlinuz and lib/modules/<version>.
rig_fetch_debian_kernel() {
    local pkg dir
    pkg=$(rig_debian_kernel_package)
    dir="$VFIO_RIG_CACHE/kernel/$pkg"
    if [ ! -f "$dir/.complete" ]; then
        rig_log "downloading $pkg"
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/deb" && chmod 777 "$dir.tmp/deb"  # apt runs downloads as _apt
        (cd "$dir.tmp/deb" && apt-get download -qq "$pkg" >/dev/null) || rig_die "apt-get download $pkg failed"
        dpkg -x "$dir.tmp"/deb/*.deb "$dir.tmp/root"
        local vmlinuz
        vmlinuz=$(ls "$dir.tmp"/root/boot/vmlinuz-* | head -1)
        mv "$vmlinuz" "$dir.tmp/vmlinuz"
        # The package has no modules.dep (the installer makes it); busybox's depmod writes one.
        local version
        version=$(ls "$dir.tmp/root/lib/modules" | head -1)
        busybox depmod -b "$dir.tmp/root" "$version"
        mv "$dir.tmp"/root/lib/modules "$dir.tmp/modules"
        rm -rf "$dir.tmp/root" "$dir.tmp/deb"
        touch "$dir.tmp/.complete"
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}

# Prints, one per line and dependencies first, the module files (relative to the modules
# directory) needed to load the named modules. Built-in modules have no file and are skipped.
rig_module_closure() {
    local moddir=$1; shift
    local dep="$moddir/modules.dep"
    [ -f "$dep" ] || return 0
    declare -A path deps seen
    local line key mod d
    while IFS= read -r line; do
        key=${line%%:*}
        mod=$(basename "$key"); mod=${mod%%.ko*}; mod=${mod//-/_}
        path[$mod]=$key
        deps[$mod]=${line#*:}
    done <"$dep"
    visit() {
        local m=${1//-/_} d dm
        [ -n "${seen[$m]:-}" ] && return 0
        seen[$m]=1
        [ -n "${path[$m]:-}" ] || return 0
        for d in ${deps[$m]}; do
            dm=$(basename "$d"); dm=${dm%%.ko*}
            visit "$dm"
        done
        echo "${path[$m]}"
    }
    for mod in "$@"; do visit "$mod"; done
}

# A short stable hash of files and strings, to key cache entries.
rig_hash() {
    { for x in "$@"; do if [ -f "$x" ]; then cat "$x"; else printf '%s\n' "$x"; fi; done; } | sha256sum | cut -c1-16
}

# Builds (once) the initramfs for a kernel directory: busybox, the rig's init and the module
# closure of what the guest needs. Prints its path.
rig_build_initramfs() {
    local kdir=$1 moddir version key out work f
    version=$(ls "$kdir/modules" 2>/dev/null | head -1 || true)
    moddir="$kdir/modules/$version"
    local wanted=(virtio_pci 9pnet_virtio 9p overlay vfio vfio_iommu_type1 vfio_pci)
    key=$(rig_hash "$RIG_DIR/init.sh" "$(command -v busybox)" "${wanted[*]}" "$kdir")
    out="$kdir/initramfs-$key.cpio.gz"
    if [ ! -f "$out" ]; then
        rig_log "building initramfs for ${version:-built-in kernel}"
        work=$(mktemp -d)
        mkdir -p "$work"/{bin,dev,proc,sys,lib/modules,host,rw,newroot}
        cp "$(command -v busybox)" "$work/bin/busybox"
        ln -s busybox "$work/bin/sh"
        cp "$RIG_DIR/init.sh" "$work/init" && chmod 755 "$work/init"
        : >"$work/modules.list"
        if [ -n "$version" ]; then
            while IFS= read -r f; do
                mkdir -p "$work/lib/modules/$(dirname "$f")"
                cp "$moddir/$f" "$work/lib/modules/$f"
                echo "$f" >>"$work/modules.list"
            done < <(rig_module_closure "$moddir" "${wanted[@]}")
        fi
        (cd "$work" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$out.tmp"
        mv "$out.tmp" "$out"
        rm -rf "$work"
    fi
    echo "$out"
}

# The kernel directory for $VFIO_RIG_KERNEL (debian: the stock Debian image; custom: the 6.12 kernel
# built by rig/build-kernel.sh).
rig_kernel_dir() {
    case "${VFIO_RIG_KERNEL:-debian}" in
        debian) rig_fetch_debian_kernel;;
        custom) "$RIG_DIR/build-kernel.sh";;
        *) rig_die "VFIO_RIG_KERNEL must be debian or custom, not $VFIO_RIG_KERNEL";;
    esac
}

rig_accel_args() {
    case "$1" in
        kvm) echo "-accel kvm -cpu host";;
        *) echo "-accel tcg,thread=multi -cpu max";;
    esac
}

# Picks the accelerator: VFIO_RIG_ACCEL if set to tcg or kvm; otherwise KVM only if /dev/kvm exists
# and a probe boot with it (running `true`) reports an exit code within 30 s. The probe's result is
# cached per host kernel, QEMU version and guest kernel.
rig_accel() {
    local kdir=$1 initramfs=$2 want=${VFIO_RIG_ACCEL:-auto}
    case "$want" in
        tcg|kvm) echo "$want"; return;;
        auto) ;;
        *) rig_die "VFIO_RIG_ACCEL must be auto, tcg or kvm, not $want";;
    esac
    [ -w /dev/kvm ] || { echo tcg; return; }
    local key result probe
    key=$(rig_hash "$(uname -r)" "$(qemu-system-x86_64 --version | head -1)" "$kdir")
    result="$VFIO_RIG_CACHE/kvm-probe-$key"
    if [ ! -f "$result" ]; then
        rig_log "probing KVM with a test boot"
        probe=$(mktemp -d)
        if timeout --kill-after=5 30 qemu-system-x86_64 -machine q35 -accel kvm -cpu host -m 512 \
            -nodefaults -display none -no-reboot -kernel "$(ls "$kdir"/vmlinu[xz] | head -1)" -initrd "$initramfs" \
            -append "console=ttyS0 panic=-1 rig.probe=1" -serial "file:$probe/console.log" >/dev/null 2>&1 \
            && grep -q 'rig-init' "$probe/console.log"; then
            echo kvm >"$result"
        else
            echo tcg >"$result"
        fi
        rm -rf "$probe"
        rig_log "KVM probe: $(cat "$result")"
    fi
    cat "$result"
}
