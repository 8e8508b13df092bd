"""The GIMP plug-in's installer, without GIMP."""

import os
import sys
from pathlib import Path

from gimp_plugin import installer as gimp_installer
from install import Installer

ROOT = Path(__file__).resolve().parents[2]


def _installer(tmp_path: Path, dry_run: bool = False) -> Installer:
    installer = Installer(tmp_path / "sketch-home", dry_run)
    installer.python = Path(sys.executable)  # its pip vendors pyzmq (the backend venv's)
    return installer


def test_installer_dry_run_changes_nothing_then_installs_idempotently(tmp_path, monkeypatch):
    gimp_dir = tmp_path / "gimp3"
    monkeypatch.setenv("GIMP3_DIRECTORY", str(gimp_dir))
    python = [sys.executable]  # a Python with pyzmq: nothing to vendor
    lines = gimp_installer.install(_installer(tmp_path, dry_run=True), python=python)
    assert not gimp_dir.exists() and "plug-ins" in lines[0]
    for _ in range(2):
        lines = gimp_installer.install(_installer(tmp_path), python=python)
        plugin = gimp_dir / "plug-ins" / "sketch-cleanup"
        assert sorted(p.name for p in plugin.iterdir()) == [
            "gimp_document.py",
            "gimp_presets.py",
            "gimp_preview.py",
            "sketch-cleanup.py",
            "sketch_kit",
        ]
        assert os.access(plugin / "sketch-cleanup.py", os.X_OK)
        for module in (ROOT / "sketch_kit").glob("*.py"):
            assert (plugin / "sketch_kit" / module.name).read_bytes() == module.read_bytes()
        assert "pyzmq" in lines[0] and "Clean Sketch" in lines[0]
    lines = gimp_installer.install(_installer(tmp_path, dry_run=True), uninstall=True)
    assert plugin.exists()
    lines = gimp_installer.install(_installer(tmp_path), uninstall=True)
    assert not plugin.exists() and "removed" in lines[0]


def test_installer_says_when_gimp3_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GIMP3_DIRECTORY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setattr(gimp_installer, "_system_gimp3", lambda: False)
    monkeypatch.setattr(gimp_installer, "_flatpak_gimp", lambda: False)
    lines = gimp_installer.install(_installer(tmp_path))
    assert lines[0].startswith("GIMP 3 not found")
    assert "GIMP 3 not found" in capsys.readouterr().out
    assert not (tmp_path / ".config").exists()


# ---------------------------------------------------------------- real GIMP 3
