"""The GIMP 3 plug-in's named presets, in the real Clean Sketch dialog of GUI GIMP.

As test_gimp_preview.py: GUI GIMP in the trixie chroot, on an Xvfb the chroot reaches over
TCP, the dialog opened INTERACTIVE by gimp_batch/clean_cases.py and answered by the
plug-in's test hook (gimp_preview.py). A presets file is put in GIMP's per-user folder
before GIMP starts; SKETCH_CLEANUP_PREVIEW_CHANGE="preset=NAME" makes the hook choose that
preset in the dialog's preset row after the first preview, and SKETCH_CLEANUP_PRESET_SAVE
makes it type a new name and press Save before OK. One GIMP start (about 20 s).
"""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from sketch_kit.options import EditorOptions, dump_presets, preset_of
from tests.editors import gimp_gui
from tests.editors.test_gimp import GimpRunner, _succeeded
from tests.editors.test_gimp_preview import SIZE, _shown
from tests.support import fixtures

INK = "#1f3a93"
PRESET = preset_of(EditorOptions(style="white", line_color=INK, threshold="fixed"))
OTHER = preset_of(EditorOptions(style="soft"))


@pytest.fixture(scope="module")
def chosen(backend_server, tmp_path_factory):
    """One GUI GIMP session: the dialog opens with lines on transparent, the hook chooses
    the saved preset "ink on white", saves the result as "mine" and answers OK."""
    reason = gimp_gui.missing()
    if reason:
        pytest.skip(reason)
    scratch = tmp_path_factory.mktemp("install")
    gimp, base, dumps = gimp_gui.session("sketch-cleanup-preset-tests", scratch)
    presets = gimp.home / ".config" / "GIMP" / "3.0" / "sketch-cleanup-presets.json"
    presets.write_text(dump_presets({"ink on white": PRESET, "soft": OTHER}))
    image = cv2.cvtColor(fixtures.drawing(*SIZE, seed=22), cv2.COLOR_GRAY2BGR)
    config = {"server": backend_server["endpoint"], "threshold": "fixed"}  # exact previews
    case = {"interactive": True, "layer_name": "preset", "config": config}
    with gimp_gui.display() as display:
        env = {
            "DISPLAY": display,
            "SKETCH_CLEANUP_PREVIEW_DUMP": gimp.inside(dumps),
            "SKETCH_CLEANUP_PREVIEW_CHANGE": "preset=ink on white",
            "SKETCH_CLEANUP_PRESET_SAVE": "mine",
        }
        result = gimp.run({"preset": (image, case)}, gui=env)["preset"]
    yield result, dumps, json.loads(presets.read_text())
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.editors
def test_gimp_dialog_applies_a_chosen_preset_to_the_clean_and_saves_new_ones(chosen):
    """Choosing "ink on white" in the real dialog turns the preview and the Clean Sketch
    that OK runs into lines of the preset's colour on white; Save wrote "mine" (the
    dialog's Result options, now the preset's) to the presets file beside the others."""
    result, dumps, saved = chosen
    first = _shown(dumps, "preset.first")
    before = np.frombuffer((dumps / "preset.first.rgba").read_bytes(), np.uint8)
    assert first["status"] == "Preview: 512×512 px", first["status"]
    assert (before[3::4] == 0).mean() > 0.5, "before the preset: lines on transparent"
    shown = _shown(dumps, "preset")
    assert shown["status"] == "Preview: 512×512 px", shown["status"]
    layer = _succeeded(result)
    h, w = SIZE
    assert layer["size"] == [w, h]
    rx, ry, rw, rh = shown["region"]
    crop = GimpRunner.pixels(result)[ry : ry + rh, rx : rx + rw]
    assert (crop[..., 3] == 255).all(), "the preset's white style reached the clean"
    ink = tuple(int(INK[i : i + 2], 16) for i in (1, 3, 5))
    lines = (crop[..., :3] == ink).all(-1)
    assert lines.mean() > 0.005 and (crop[..., :3] == 255).all(-1).mean() > 0.5, (
        "lines of the preset's colour on white"
    )
    preview = np.frombuffer((dumps / "preset.rgba").read_bytes(), np.uint8).reshape(rh, rw, 4)
    np.testing.assert_array_equal(preview, crop)  # the preview followed the preset too
    assert shown["preset_status"] == "Saved the preset “mine”.", shown["preset_status"]
    assert saved == {"ink on white": PRESET, "soft": OTHER, "mine": PRESET}, saved
