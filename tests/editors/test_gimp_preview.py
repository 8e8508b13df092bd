"""The GIMP 3 plug-in's live preview, in the real Clean Sketch dialog of GUI GIMP.

GUI GIMP (gimp-3.0, in the trixie chroot of test_gimp.py) runs under an Xvfb on the host
that listens on TCP: the chroot shares the host's network, so DISPLAY=127.0.0.1:N reaches
it. gimp_batch/clean_cases.py calls the procedure INTERACTIVE, which opens the real
dialog; the plug-in's test hook (SKETCH_CLEANUP_PREVIEW_DUMP, gimp_preview.py) writes what
the preview shows once it shows something and answers the dialog: OK after a preview (the
clean then runs with the dialog's options), Cancel after "No preview: …"; with
SKETCH_CLEANUP_PREVIEW_CHANGE it first sets an option in the dialog, as a click would, and
answers after the preview that follows. One GIMP start serves both cases (about 20 s on a
2-core machine).
"""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from tests.editors import gimp_gui
from tests.editors.test_gimp import GimpRunner, _succeeded
from tests.support import fixtures

SIZE = (600, 700)  # h, w: bigger than the 512² preview, so the region is a real crop


@pytest.fixture(scope="module")
def previewed(backend_server, tmp_path_factory):
    """One GUI GIMP session: a dialog whose preview works, one whose backend is down."""
    reason = gimp_gui.missing()
    if reason:
        pytest.skip(reason)
    scratch = tmp_path_factory.mktemp("install")
    gimp, base, dumps = gimp_gui.session("sketch-cleanup-preview-tests", scratch)
    down = f"tcp://127.0.0.1:{fixtures.free_port()}"  # nothing listens there
    gray = fixtures.drawing(*SIZE, seed=21)
    image = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    fixed = {"threshold": "fixed", "threshold-level": 0.5}  # exact by construction
    # The cancelled case first: an interactive run starts from the options of the last
    # successful one (GIMP's "last used values"), so after "preview" the server would be its.
    cases = {
        "down": (
            image,
            {
                "interactive": True,
                "layer_name": "down",
                "config": {"server": down, "autostart": False},
            },
        ),
        "preview": (
            image,
            {
                "interactive": True,
                "layer_name": "shown",
                "config": {"server": backend_server["endpoint"], **fixed},
            },
        ),
    }
    with gimp_gui.display() as display:
        env = {
            "DISPLAY": display,
            "SKETCH_CLEANUP_PREVIEW_DUMP": gimp.inside(dumps),
            "SKETCH_CLEANUP_PREVIEW_CHANGE": "style=white",  # after the first preview
        }
        results = gimp.run(cases, gui=env)
    yield results, dumps, down
    shutil.rmtree(base, ignore_errors=True)


def _shown(dumps, name: str) -> dict:
    path = dumps / f"{name}.json"
    assert path.exists(), f"the dialog's preview hook wrote nothing for {name}"
    return json.loads(path.read_text())


@pytest.mark.editors
def test_gimp_dialog_preview_follows_the_options_and_equals_the_clean_result(previewed):
    """The dialog previews the centred 512² of a 700×600 layer, re-runs when the style
    changes to white, and the Clean Sketch the same dialog then runs (OK) puts exactly the
    pixels of that last preview there; the preview changed nothing in the image."""
    results, dumps, _ = previewed
    result = results["preview"]
    first = _shown(dumps, "shown.first")
    assert first["status"] == "Preview: 512×512 px", first["status"]
    before = np.frombuffer((dumps / "shown.first.rgba").read_bytes(), np.uint8)
    assert (before[3::4] == 0).mean() > 0.5, "the first preview: lines on transparent"
    shown = _shown(dumps, "shown")  # none: no new preview after the change (hook cancelled)
    layer = _succeeded(result)  # also: the source layer is unchanged, one layer added
    header = shown["header"]
    assert shown["status"] == "Preview: 512×512 px", shown["status"]
    assert header["exact"] is True and header["format"] == "rgba8", header
    h, w = SIZE
    rx, ry, rw, rh = shown["region"]
    assert (rx, ry, rw, rh) == ((w - 512) // 2, (h - 512) // 2, 512, 512)
    preview = np.frombuffer((dumps / "shown.rgba").read_bytes(), np.uint8).reshape(rh, rw, 4)
    full = GimpRunner.pixels(result)
    assert layer["size"] == [w, h] and layer["offsets"] == [0, 0]
    crop = full[ry : ry + rh, rx : rx + rw]
    assert (crop[..., 3] == 255).all(), "white style: the clean ran with the changed option"
    assert (crop[..., :3] < 100).any() and (crop[..., :3] == 255).any(), "lines on white"
    np.testing.assert_array_equal(preview, crop)
    assert list(header["region"]) == [rx, ry, rw, rh]
    assert (dumps / "shown.png").stat().st_size > 10_000, "no screenshot of the dialog"


@pytest.mark.editors
def test_gimp_dialog_says_no_preview_when_the_backend_is_down(previewed):
    results, dumps, down = previewed
    result = results["down"]
    assert result["ok"], result.get("error", "") + result["log"]
    shown = _shown(dumps, "down")
    assert shown["status"].startswith(f"No preview: No Sketch Cleanup backend answers at {down}")
    assert shown["header"] is None and not (dumps / "down.rgba").exists()
    assert result["status"] == "cancel", result["status"]  # the hook cancels after an error
    assert result["layers"] == result["layers_before"] and result["source_unchanged"]
