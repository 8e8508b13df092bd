"""docs/backend.md states the defaults backend/defaults.py holds, and --help shows them."""

import re
import subprocess
import sys
from pathlib import Path

from backend import defaults

ROOT = Path(__file__).resolve().parents[2]


def test_docs_state_the_defaults():
    text = (ROOT / "docs" / "backend.md").read_text()
    assert f"`--tile`, default {defaults.TILE}; `--overlap`, {defaults.OVERLAP}" in text
    assert f"`--batch`, {defaults.BATCH};" in text
    assert f"`--max-queue` ({defaults.MAX_QUEUE})" in text
    assert f"`--max-queued-bytes` ({defaults.MAX_QUEUED_BYTES >> 30} GiB)" in text
    assert f"`--loaded-models` ({defaults.LOADED_MODELS})" in text


def test_help_shows_the_defaults():
    done = subprocess.run(
        [sys.executable, "-m", "backend", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    text = re.sub(r"\s+", " ", done.stdout)
    for value in (defaults.TILE, defaults.OVERLAP, defaults.MAX_SIDE, defaults.MAX_PIXELS):
        assert f"({value})" in text, value
