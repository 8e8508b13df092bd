#!/usr/bin/env bash
# Provision GIMP 3 for the editor tests: a Debian trixie chroot with gimp-console-3.0,
# Python 3 + PyGObject and python3-zmq. Debian 12 has no GIMP 3, and installing trixie's
# packages on the host would replace its libc and Python, hence the chroot.
#
#   sudo bash tests/provision_gimp.sh            # creates /var/cache/sketch-cleanup/gimp-trixie
#   SKETCH_GIMP_CHROOT=/some/dir bash tests/provision_gimp.sh
#
# Idempotent: a finished chroot is left alone; an unfinished one is completed or redone.
# Needs root and network access to deb.debian.org (or $SKETCH_DEBIAN_MIRROR).
# About 130 MB of downloads after debootstrap's 40 MB, about 800 MB on disk.
set -euo pipefail

CHROOT="${SKETCH_GIMP_CHROOT:-/var/cache/sketch-cleanup/gimp-trixie}"
MIRROR="${SKETCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=(gimp python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4 python3-zmq)
DONE_MARK="$CHROOT/.sketch-cleanup-provisioned"
STAGE1_MARK="$CHROOT/.sketch-cleanup-debootstrap-done"
LOG="$(mktemp -t provision-gimp.XXXXXX.log)"
START=$SECONDS

step() { printf '[provision_gimp %3ds] %s\n' "$((SECONDS - START))" "$*"; }
fail() {
    echo "provision_gimp: FAILED: $*" >&2
    echo "---- last lines of $LOG ----" >&2
    tail -n 40 "$LOG" >&2
    exit 1
}
quiet() { "$@" >>"$LOG" 2>&1; }

if [ -f "$DONE_MARK" ] && [ -x "$CHROOT/usr/bin/gimp-console-3.0" ]; then
    step "GIMP 3 chroot already provisioned: $CHROOT ($(cat "$DONE_MARK"))"
    rm -f "$LOG"
    exit 0
fi
[ "$(id -u)" = 0 ] || fail "must run as root (debootstrap and chroot need it)"

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${mounted[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT

if ! command -v debootstrap >/dev/null; then
    step "installing debootstrap on the host"
    quiet apt-get update -q || fail "apt-get update"
    quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        debootstrap || fail "apt-get install debootstrap"
fi

if [ ! -f "$STAGE1_MARK" ]; then
    if [ -e "$CHROOT" ]; then
        step "removing an unfinished chroot at $CHROOT"
        # never follow mounts left by an interrupted earlier run
        for m in dev/pts dev sys proc; do umount -l "$CHROOT/$m" 2>/dev/null || true; done
        rm -rf --one-file-system "$CHROOT"
    fi
    mkdir -p "$(dirname "$CHROOT")"
    step "debootstrap --variant=minbase trixie $CHROOT (about 40 MB)"
    quiet debootstrap --variant=minbase trixie "$CHROOT" "$MIRROR" || fail "debootstrap"
    touch "$STAGE1_MARK"
fi

for m in proc sys dev dev/pts; do
    mkdir -p "$CHROOT/$m"
    if ! mountpoint -q "$CHROOT/$m"; then
        case $m in
            proc) mount -t proc proc "$CHROOT/proc" ;;
            sys) mount -t sysfs sys "$CHROOT/sys" ;;
            dev) mount --bind /dev "$CHROOT/dev" ;;
            dev/pts) mount -t devpts devpts "$CHROOT/dev/pts" ;;
        esac || fail "mount $m"
        mounted+=("$CHROOT/$m")
    fi
done
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true

in_chroot() { chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }

step "apt-get install ${PACKAGES[*]} (about 130 MB)"
quiet in_chroot apt-get update -q || fail "apt-get update in the chroot"
quiet in_chroot apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" \
    || fail "apt-get install in the chroot"
quiet in_chroot apt-get clean || true
rm -rf "$CHROOT"/var/lib/apt/lists/* 2>/dev/null || true

cleanup
mounted=()

version="$(chroot "$CHROOT" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 gimp-console-3.0 --version \
    2>/dev/null | head -n 1)" || fail "gimp-console-3.0 does not run in the chroot"
chroot "$CHROOT" /usr/bin/python3 -c "import gi, zmq; gi.require_version('Gimp', '3.0')" \
    >>"$LOG" 2>&1 || fail "python3-gi or python3-zmq missing in the chroot"
echo "$version" >"$DONE_MARK"
step "done: $version, $(du -sh --one-file-system "$CHROOT" | cut -f1) in $CHROOT"
rm -f "$LOG"
