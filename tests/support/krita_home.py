"""A HOME for one isolated Krita: its environment, kritarc edits, the installed plugin."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def home_env(home: Path) -> dict:
    """The environment of one isolated Krita: HOME, TMPDIR and XDG folders inside `home`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "SKETCH_CLEANUP_HOME": str(home / "sketch-cleanup"),
    }
    for folder in ("tmp", "runtime", "sketch-cleanup"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    (home / "runtime").chmod(0o700)
    return env


def edit_kritarc(home: Path, section: str, values: dict) -> None:
    from krita_plugin.installer import set_ini_value

    path = home / ".config" / "kritarc"
    text = path.read_text() if path.exists() else ""
    for key, value in values.items():
        text = set_ini_value(text, section, key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def install_plugin(home: Path) -> Path:
    """Install the plugin into `home` with the real installer (pyzmq comes from PyPI)."""
    import pytest

    import install
    from krita_plugin import installer as krita_installer

    env = home_env(home)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            if name != "PATH":
                mp.setenv(name, value)
        mp.delenv("SKETCH_CLEANUP_KRITA_PYTHON", raising=False)
        inst = install.Installer(Path(env["SKETCH_CLEANUP_HOME"]), dry_run=False)
        inst.python = Path(sys.executable)  # the pip that install.py's backend venv would be
        summary = krita_installer.install(inst)
    assert len(summary) >= 1 and "sketch_cleanup" in summary[0], summary
    shutil.rmtree(home / ".cache", ignore_errors=True)  # pip's download cache
    return home
