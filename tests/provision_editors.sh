#!/usr/bin/env bash
# Provision both editors for the end-to-end tests: Krita from Debian's packages (with Xvfb)
# and GIMP 3 in a Debian trixie chroot. Idempotent; needs root and the package mirrors.
set -euo pipefail
cd "$(dirname "$0")"
bash provision_krita.sh
bash provision_gimp.sh
