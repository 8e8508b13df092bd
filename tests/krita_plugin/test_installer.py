"""The Krita plugin's installer, without Krita: kritarc edits, Python detection, files."""

import shutil
import subprocess
import sys
from pathlib import Path

import install
from krita_plugin import installer as krita_installer
from tests.support.krita_home import home_env

ROOT = Path(__file__).resolve().parents[2]


def test_kritarc_editing_keeps_everything_else():
    original = (
        "[General]\nfoo=1\n\n[MainWindow][Toolbar mainToolBar]\nToolButtonStyle=IconOnly\n\n"
        "[python]\nenable_ten_brushes=true\n\n[theme]\nTheme=Krita dark\n"
    )
    enabled = krita_installer.set_ini_value(original, "python", "enable_sketch_cleanup", "true")
    assert enabled == original.replace(
        "enable_ten_brushes=true\n", "enable_ten_brushes=true\nenable_sketch_cleanup=true\n"
    )
    assert (
        krita_installer.set_ini_value(enabled, "python", "enable_sketch_cleanup", "true") == enabled
    )
    flipped = enabled.replace("enable_sketch_cleanup=true", "enable_sketch_cleanup=false")
    assert (
        krita_installer.set_ini_value(flipped, "python", "enable_sketch_cleanup", "true") == enabled
    )
    assert (
        krita_installer.set_ini_value(enabled, "python", "enable_sketch_cleanup", None) == original
    )
    fresh = krita_installer.set_ini_value(
        "[General]\nfoo=1", "python", "enable_sketch_cleanup", "true"
    )
    assert fresh == "[General]\nfoo=1\n\n[python]\nenable_sketch_cleanup=true\n"
    assert krita_installer.set_ini_value("", "python", "x", "1") == "[python]\nx=1\n"
    windows = "[python]\r\nenable_a=true\r\n"
    assert (
        krita_installer.set_ini_value(windows, "python", "b", "1")
        == "[python]\r\nenable_a=true\r\nb=1\r\n"
    )


def test_python_version_detection(tmp_path, monkeypatch):
    fake = tmp_path / "kritapykrita.so"
    fake.write_bytes(b"\x7fELF....libpython3.12.so.1.0\0more")
    assert krita_installer._libpython_version(fake) == "3.12"
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "Applications").mkdir()
    image = tmp_path / "Applications" / "krita-5.2.6-x86_64.appimage"
    image.write_bytes(b"")
    target = krita_installer._appimage_target(image)
    assert (target.python, target.kind) == ("3.10", "appimage")
    assert (
        krita_installer._appimage_target(tmp_path / "krita-5.3.0-x86_64.AppImage").python == "3.13"
    )
    monkeypatch.setenv("SKETCH_CLEANUP_KRITA_PYTHON", "3.9")
    assert {t.python for t in krita_installer.find_kritas()} == {"3.9"}


def test_installer_dry_run_idempotence_and_uninstall(installed_home, tmp_path, monkeypatch, capsys):
    """Against a copy of a HOME the real installer filled (no Krita needed): pyzmq is
    vendored for Krita's Python, a second install only refreshes the plugin, dry runs touch
    nothing, uninstall removes exactly the plugin and its kritarc line."""
    home = tmp_path / "home"
    shutil.copytree(installed_home, home, symlinks=True)
    (home / ".local" / "share" / "krita" / "pykrita" / "other_plugin").mkdir()
    for name, value in home_env(home).items():
        if name != "PATH":
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("SKETCH_CLEANUP_KRITA_PYTHON", raising=False)
    inst = install.Installer(home / "sketch-cleanup", dry_run=False)
    inst.python = Path(sys.executable)
    kritarc = home / ".config" / "kritarc"
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    assert "enable_sketch_cleanup=true" in kritarc.read_text()
    vendor = pykrita / "sketch_cleanup" / "vendor"
    assert (vendor / "zmq").is_dir()
    kit = pykrita / "sketch_cleanup" / "kit" / "sketch_kit"
    assert sorted(p.name for p in kit.glob("*.py")) == sorted(
        p.name for p in (ROOT / "sketch_kit").glob("*.py")
    )
    assert not (pykrita / "sketch_cleanup" / "sketch_client.py").exists()
    assert (pykrita / "sketch_cleanup.desktop").is_file()
    assert (home / ".local" / "share" / "krita" / "actions" / "sketch_cleanup.action").is_file()
    target = krita_installer.find_kritas()[0]
    marker = (vendor / "VENDORED_FOR").read_text()
    assert marker.startswith(f"{target.python} manylinux"), marker
    system = Path("/usr/bin/python3")
    if system.exists() and target.found:  # Krita's Python imports the vendored pyzmq
        probe = "import sys; sys.path.insert(0, sys.argv[1]); import zmq; print(zmq.zmq_version())"
        version = subprocess.run(
            [str(system), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if version == target.python:
            done = subprocess.run(
                [str(system), "-c", probe, str(vendor)], capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr

    kritarc.write_text(kritarc.read_text() + "\n[custom]\nkeep=me\n")
    before = kritarc.read_text()
    (pykrita / "sketch_cleanup" / "stale_module.py").write_text("old = True\n")
    summary = krita_installer.install(inst)
    out = capsys.readouterr().out
    assert "pyzmq already in" in out  # vendored once, kept
    assert kritarc.read_text() == before
    assert not (pykrita / "sketch_cleanup" / "stale_module.py").exists()
    assert "sketch_cleanup" in summary[0]

    dry = install.Installer(home / "sketch-cleanup", dry_run=True)
    snapshot = sorted(str(p) for p in home.rglob("*"))
    krita_installer.install(dry, uninstall=True)
    assert sorted(str(p) for p in home.rglob("*")) == snapshot
    assert "[dry run] removing" in capsys.readouterr().out

    summary = krita_installer.install(inst, uninstall=True)
    assert "removed the Sketch Cleanup plugin" in summary[0]
    assert (
        not (pykrita / "sketch_cleanup").exists()
        and not (pykrita / "sketch_cleanup.desktop").exists()
    )
    assert (pykrita / "other_plugin").exists()  # other plugins stay
    text = kritarc.read_text()
    assert "enable_sketch_cleanup=" not in text
    assert "[custom]\nkeep=me" in text
    assert "no Sketch Cleanup plugin to remove" in krita_installer.install(inst, uninstall=True)[0]
