"""Remake docs/images/gimp-options-preview.png: GIMP's Clean Sketch dialog previewing a
real sketch (examples/revoy_witch_rough.png) with the shipped model.

    sudo env PYTHONPATH=. .venv/bin/python -m tests.editors.gimp_screenshot

Needs what tests/editors/test_gimp_preview.py needs (root, the GIMP 3 chroot, Xvfb). It
serves models/sketch-unet.keras on a free port, opens the real dialog in GUI GIMP through
gimp_batch/clean_cases.py, and keeps the window picture the plug-in's preview hook
(SKETCH_CLEANUP_PREVIEW_DUMP, gimp_preview.py) grabs once the preview is on screen.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import cv2

from tests.editors import gimp_gui
from tests.support import fixtures

ROOT = Path(__file__).resolve().parents[2]
SKETCH = ROOT / "examples" / "revoy_witch_rough.png"
MODEL = ROOT / "models" / "sketch-unet.keras"
OUT = ROOT / "docs" / "images" / "gimp-options-preview.png"


def main() -> int:
    reason = gimp_gui.missing()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="gimp-screenshot-"))
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    log = scratch / "backend.log"
    backend = fixtures.start_backend(["serve", "--bind", endpoint, "--model", str(MODEL)], log)
    base = None
    try:
        fixtures.wait_ready(endpoint, backend, log)
        gimp, base, dumps = gimp_gui.session("sketch-cleanup-screenshot", scratch)
        case = {"interactive": True, "layer_name": "witch", "config": {"server": endpoint}}
        with gimp_gui.display() as display:
            env = {"DISPLAY": display, "SKETCH_CLEANUP_PREVIEW_DUMP": gimp.inside(dumps)}
            result = gimp.run({"witch": (cv2.imread(str(SKETCH)), case)}, gui=env)["witch"]
        shot = dumps / "witch.png"
        if not shot.exists():
            print(f"no screenshot; GIMP said:\n{result['log']}", file=sys.stderr)
            return 1
        print((dumps / "witch.json").read_text())
        shutil.copyfile(shot, OUT)
        print(f"wrote {OUT}")
        return 0
    finally:
        fixtures.stop(backend)
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
