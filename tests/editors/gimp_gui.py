"""GUI GIMP for the tests that open the real Clean Sketch dialog (preview, presets, cancel).

GUI GIMP (gimp-3.0, in the trixie chroot of test_gimp.py) runs on an Xvfb of the host that
listens on TCP: the chroot shares the host's network, not its /tmp/.X11-unix, so
DISPLAY=127.0.0.1:N reaches it (only local clients may connect, as without -ac).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.editors.conftest import start_xvfb
from tests.editors.test_gimp import CHROOT, GimpRunner, _gimp_missing


def missing() -> str | None:
    """Why GUI GIMP cannot run here (None: it can)."""
    return _gimp_missing() or (None if shutil.which("Xvfb") else "Xvfb is not installed")


def session(name: str, scratch: Path) -> tuple[GimpRunner, Path, Path]:
    """A fresh folder in the chroot with the plug-in installed: (runner, folder, dumps)."""
    base = CHROOT / "tmp" / name
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    gimp = GimpRunner(base)
    gimp.install(scratch)
    dumps = base / "dumps"
    dumps.mkdir()
    return gimp, base, dumps


@contextmanager
def display() -> Iterator[str]:
    """An Xvfb the chroot reaches over TCP, for one GIMP run: its DISPLAY."""
    xvfb, number = start_xvfb("-listen", "tcp", "-screen", "0", "1280x1024x24")
    try:
        yield f"127.0.0.1:{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)
