#!/usr/bin/env bash
# The test command (README and .ci/run): sets up .venv when needed, then runs every test.
# Editor tests run when the editors are provisioned (tests/provision_editors.sh), else skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import tensorflow, keras, openvino, skimage, cv2, zmq, pytest, mypy, skan, vtracer, resvg_py" 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev,train]"
fi
export TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
