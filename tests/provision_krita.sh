#!/usr/bin/env bash
# Provision Krita for the editor tests (tests/editors/test_krita.py): Debian's Krita 5.1
# with its Python plugin support, PyQt5 and an X server for headless runs.
#
#   sudo bash tests/provision_krita.sh
#
# Idempotent and quiet: does nothing when everything is installed, prints one line per step
# otherwise and the tail of apt's log if a step fails. Needs root and a Debian/Ubuntu mirror.
# About 115 MB of downloads. pyzmq is deliberately NOT installed from Debian (python3-zmq):
# the tests install the plugin the way artists get it, with pyzmq vendored from PyPI for
# Krita's own Python by install.py.
set -euo pipefail

PACKAGES=(krita python3-pyqt5 xvfb xauth)
LOG="$(mktemp -t provision-krita.XXXXXX.log)"
START=$SECONDS
step() { printf '[provision_krita %3ds] %s\n' "$((SECONDS - START))" "$*"; }
fail() {
    echo "provision_krita: FAILED: $*" >&2
    echo "---- last lines of $LOG ----" >&2
    tail -n 40 "$LOG" >&2
    exit 1
}

missing=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -eq 0 ] && command -v krita >/dev/null && command -v Xvfb >/dev/null; then
    step "Krita $(dpkg-query -W -f='${Version}' krita) and Xvfb already installed"
    rm -f "$LOG"
    exit 0
fi
[ "$(id -u)" = 0 ] || fail "must run as root to install ${missing[*]}"

step "apt-get update"
apt-get update -q >>"$LOG" 2>&1 || fail "apt-get update"
step "installing ${missing[*]} (about 115 MB the first time)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    >>"$LOG" 2>&1 || fail "apt-get install ${missing[*]}"
command -v krita >/dev/null || fail "krita is not on PATH after installing it"
command -v Xvfb >/dev/null || fail "Xvfb is not on PATH after installing it"
step "done: Krita $(dpkg-query -W -f='${Version}' krita)"
rm -f "$LOG"
