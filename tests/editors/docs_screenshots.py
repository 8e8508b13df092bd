"""Remake the Krita pictures in the docs with the shipped model (opt-in, not a test).

    .venv/bin/python -m pytest tests/editors/docs_screenshots.py

writes docs/images/krita.png (Krita with a cleaned layer) and
docs/images/krita-options-preview.png (the options dialog previewing the sketch), both of
examples/revoy_witch_rough.png cleaned by models/sketch-unet.keras with the default options,
through the same harness and real GUI Krita as tests/editors/test_krita.py. Its name does not
start with test_, so the test command never collects it (never rewrites the docs); pytest
runs it when named. The GIMP dialog's picture is remade by tests/editors/gimp_screenshot.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.editors.conftest import run_krita
from tests.support import fixtures
from tests.support.krita_home import edit_kritarc

ROOT = Path(__file__).resolve().parents[2]
SKETCH = ROOT / "examples" / "revoy_witch_rough.png"
MODEL = ROOT / "models" / "sketch-unet.keras"
IMAGES = ROOT / "docs" / "images"

pytestmark = pytest.mark.editors


@pytest.fixture
def shipped_server(tmp_path):
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    log = tmp_path / "backend.log"
    proc = fixtures.start_backend(["serve", "--bind", endpoint, "--model", str(MODEL)], log)
    try:
        fixtures.wait_ready(endpoint, proc, log)
        yield endpoint
    finally:
        fixtures.stop(proc)


def test_remake_the_krita_pictures(krita_home, shipped_server, tmp_path):
    edit_kritarc(krita_home, "sketch_cleanup", {"server": shipped_server})
    window = tmp_path / "krita.png"
    run = {  # the options dialog (a default value set, so that it opens), then the clean
        "name": "shot",
        "expect": "ok",
        "options_dialog": {"threshold": "otsu"},
        "wait_preview": True,
        "dialog_screenshot": True,
        "screenshot": str(window),
        "hide_sketch_for_screenshot": True,
    }
    krita = run_krita(krita_home, {"image": str(SKETCH), "runs": [run]}, timeout=300)
    assert krita.returncode == 0, krita.describe()
    dialog = krita.out / "shot-dialog.png"
    assert dialog.stat().st_size > 10000 and window.stat().st_size > 10000
    shutil.copyfile(dialog, IMAGES / "krita-options-preview.png")
    shutil.copyfile(window, IMAGES / "krita.png")
