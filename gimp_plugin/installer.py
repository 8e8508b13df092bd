"""Installs the GIMP 3 plug-in; install.py calls `install(installer, uninstall=False)`.

The plug-in folder `sketch-cleanup/` (plus the editor kit, `sketch_kit/`) goes into GIMP 3's user
plug-ins folder of every GIMP 3 found:

    Linux      ~/.config/GIMP/3.0/plug-ins              ($XDG_CONFIG_HOME honoured)
    Flatpak    ~/.var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins
    Windows    %APPDATA%\\GIMP\\3.0\\plug-ins
    macOS      ~/Library/Application Support/GIMP/3.0/plug-ins

`GIMP3_DIRECTORY`, which GIMP itself reads to relocate its configuration folder, replaces
all of these (the tests use it to install into a chroot).

pyzmq: GIMP runs Python plug-ins with its own Python. On Linux that is the system's
python3: when it already imports zmq (Debian/Ubuntu/Fedora `python3-zmq`) nothing is added,
as the distribution keeps that module in step with its Python across upgrades; otherwise a
pyzmq wheel for that Python version is unpacked into the plug-in's `vendor/` folder (no root
needed). Windows, macOS and Flatpak GIMP bundle a Python without pyzmq: always vendored.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN = "sketch-cleanup"
SOURCE = Path(__file__).resolve().parent / PLUGIN
ROOT = SOURCE.parent.parent
FILES = (f"{PLUGIN}.py", "gimp_document.py", "gimp_preview.py", "gimp_presets.py")
KIT = ROOT / "sketch_kit"  # the shared editor kit
VENDOR_STAMP = ".sketch-cleanup-python"
FLATPAK_ID = "org.gimp.GIMP"
MENU = "Filters ▸ Artistic ▸ Clean Sketch…"

PROBE = (
    "import sys\n"
    "print('%d.%d' % sys.version_info[:2])\n"
    "try:\n"
    "    import zmq\n"
    "    print(zmq.pyzmq_version())\n"
    "except Exception:\n"
    "    print('')\n"
)


@dataclass
class Target:
    """One GIMP 3 installation: where its plug-ins go and which Python runs them."""

    label: str
    config_dir: Path
    python: list[str] | None = None  # command that runs GIMP's Python, to probe it
    python_version: str | None = None  # used when `python` cannot be run
    platforms: list[str] = field(default_factory=list)
    system_zmq_ok: bool = False  # may rely on the Python's own pyzmq

    @property
    def plugin_dir(self) -> Path:
        return self.config_dir / "plug-ins" / PLUGIN


def _linux_platforms() -> list[str]:
    machine = platform.machine() or "x86_64"
    return [f"manylinux_2_28_{machine}", f"manylinux_2_17_{machine}", f"manylinux2014_{machine}"]


def _system_gimp3() -> bool:
    if any(shutil.which(name) for name in ("gimp-3.0", "gimp-console-3.0", "gimp-3")):
        return True
    patterns = ("/usr/lib*/gimp/3.0", "/usr/lib/*/gimp/3.0", "/usr/local/lib*/gimp/3.0")
    return any(glob.glob(pattern) for pattern in patterns)


def _flatpak_gimp() -> bool:
    if (Path.home() / ".var" / "app" / FLATPAK_ID).is_dir():
        return True
    if not shutil.which("flatpak"):
        return False
    try:
        found = subprocess.run(
            ["flatpak", "info", FLATPAK_ID], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return found.returncode == 0


def find_targets(python: list[str] | None = None) -> tuple[list[Target], list[str]]:
    """GIMP 3 installations found, and the places looked at (for 'not found')."""
    override = os.environ.get("GIMP3_DIRECTORY")
    if override:
        config = Path(override).expanduser()
        if sys.platform == "win32":
            target = Target("GIMP 3", config, python, "3.12", _windows_platforms())
        else:
            target = Target(
                "GIMP 3", config, python or [_system_python()], None, _linux_platforms(), True
            )
        return [target], [str(config)]

    if sys.platform == "win32":
        appdata = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
        config = appdata / "GIMP" / "3.0"
        programs = [
            Path(p)
            for base in (os.environ.get("ProgramFiles"), os.environ.get("LOCALAPPDATA"))
            if base
            for p in glob.glob(str(Path(base) / "GIMP 3*"))
            + glob.glob(str(Path(base) / "Programs" / "GIMP 3*"))
        ]
        bundled = [
            p / "bin" / "python.exe" for p in programs if (p / "bin" / "python.exe").exists()
        ]
        if config.is_dir() or programs:
            command = python or ([str(bundled[0])] if bundled else None)
            return [Target("GIMP 3", config, command, "3.12", _windows_platforms())], []
        return [], [str(config), "%ProgramFiles%\\GIMP 3"]

    if sys.platform == "darwin":
        config = Path.home() / "Library" / "Application Support" / "GIMP" / "3.0"
        apps = glob.glob("/Applications/GIMP*.app") + glob.glob(
            str(Path.home() / "Applications" / "GIMP*.app")
        )
        pythons = [
            p
            for app in apps
            for p in sorted(glob.glob(f"{app}/Contents/MacOS/python3*"))
            + sorted(glob.glob(f"{app}/Contents/Resources/bin/python3*"))
        ]
        if config.is_dir() or apps:
            command = python or (pythons[:1] or None)
            machine = platform.machine()
            platforms = [
                f"macosx_11_0_{machine}",
                "macosx_10_15_universal2",
                "macosx_10_9_universal2",
                f"macosx_10_15_{machine}",
                f"macosx_10_9_{machine}",
            ]
            return [Target("GIMP 3", config, command, "3.12", platforms)], []
        return [], [str(config), "/Applications/GIMP.app"]

    targets: list[Target] = []
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    native = Path(xdg) / "GIMP" / "3.0"
    if native.is_dir() or _system_gimp3():
        targets.append(
            Target("GIMP 3", native, python or [_system_python()], None, _linux_platforms(), True)
        )
    flatpak = Path.home() / ".var" / "app" / FLATPAK_ID / "config" / "GIMP" / "3.0"
    if _flatpak_gimp():
        targets.append(
            Target(
                "GIMP 3 (Flatpak)",
                flatpak,
                python or ["flatpak", "run", "--command=python3", FLATPAK_ID],
                "3.12",
                _linux_platforms(),
                False,
            )
        )
    return targets, [str(native), str(flatpak), "gimp-3.0 on PATH", "/usr/lib/*/gimp/3.0"]


def _system_python() -> str:
    # GIMP runs plug-ins through their "#!/usr/bin/env python3" line with the desktop's
    # PATH, which is the system Python, not a virtual environment active in this shell.
    return "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"


def _windows_platforms() -> list[str]:
    return ["win_arm64"] if platform.machine().lower() in ("arm64", "aarch64") else ["win_amd64"]


def probe_python(command: list[str] | None) -> tuple[str | None, str | None]:
    """(Python version "3.x", pyzmq version or None) of GIMP's Python, if it can be run."""
    if not command:
        return None, None
    try:
        answer = subprocess.run(
            [*command, "-c", PROBE], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    lines = answer.stdout.splitlines()
    if answer.returncode != 0 or not lines:
        return None, None
    return lines[0].strip(), (lines[1].strip() if len(lines) > 1 else "") or None


def _copy_plugin(installer, dest: Path) -> None:
    installer.say(f"copying the plug-in to {dest}")
    if installer.dry_run:
        return
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(SOURCE / name, dest / name)
    shutil.rmtree(dest / KIT.name, ignore_errors=True)
    shutil.copytree(KIT, dest / KIT.name, ignore=shutil.ignore_patterns("__pycache__"))
    for stale in ("cleanup_support.py", "sketch_client.py"):  # an older version's modules
        (dest / stale).unlink(missing_ok=True)
    (dest / f"{PLUGIN}.py").chmod(0o755)  # GIMP silently ignores a plug-in it cannot execute
    shutil.rmtree(dest / "__pycache__", ignore_errors=True)


def _pyzmq(installer, target: Target, dest: Path, pyzmq: str) -> str:
    """Make pyzmq importable for the target's Python; a few words on how, for the summary."""
    vendor = dest / "vendor"
    version, system_zmq = probe_python(target.python)
    if pyzmq == "auto" and target.system_zmq_ok and system_zmq:
        if vendor.exists():
            installer.say(f"removing {vendor}: GIMP's Python has pyzmq {system_zmq}")
            if not installer.dry_run:
                shutil.rmtree(vendor)
        return f"pyzmq {system_zmq} of GIMP's Python {version}"
    version = version or target.python_version
    if version is None:
        raise SystemExit(
            f"cannot tell which Python {target.label} uses (tried {target.python}); install "
            "your distribution's python3-zmq package, or run install.py with the python3 "
            "that GIMP uses"
        )
    stamp = f"{version} {' '.join(target.platforms)}"
    stamp_file = vendor / VENDOR_STAMP
    if vendor.exists() and (not stamp_file.exists() or stamp_file.read_text().strip() != stamp):
        installer.say(f"removing {vendor}: it was made for another Python")
        if not installer.dry_run:
            shutil.rmtree(vendor)
    installer.say(f"vendoring pyzmq for Python {version} ({', '.join(target.platforms)})")
    installer.vendor_pyzmq(vendor, version, target.platforms)
    if not installer.dry_run:
        stamp_file.write_text(stamp + "\n")
    return f"pyzmq vendored for Python {version} in {vendor}"


def install(
    installer, uninstall: bool = False, *, python: list[str] | None = None, pyzmq: str = "auto"
) -> list[str]:
    """Install (or remove) the plug-in for every GIMP 3 found; summary lines.

    python: the command that runs GIMP's Python (default: found per platform);
    pyzmq: "auto" (use GIMP's Python's own pyzmq where allowed, else vendor) or "vendor".
    """
    targets, searched = find_targets(python)
    if uninstall:
        lines = []
        for target in targets:
            dest = target.plugin_dir
            if dest.is_symlink() or dest.exists():
                installer.say(f"removing {dest}")
                if not installer.dry_run:
                    if dest.is_symlink():
                        dest.unlink()
                    else:
                        shutil.rmtree(dest)
                lines.append(f"{target.label} plug-in removed from {dest}")
        if not lines:
            installer.say("no GIMP 3 plug-in to remove")
        return lines

    if not targets:
        message = (
            "GIMP 3 not found (looked at " + ", ".join(searched) + "); install GIMP 3.0 or "
            "later, start it once, then run `python3 install.py --editor gimp` again"
        )
        installer.say(message)
        return [message]

    lines = []
    for target in targets:
        dest = target.plugin_dir
        if dest.is_symlink():
            installer.say(f"{dest} is a link to {os.readlink(dest)}: left as it is")
            lines.append(f"{target.label} plug-in: {dest} (your link, left alone)")
            continue
        _copy_plugin(installer, dest)
        how = _pyzmq(installer, target, dest, pyzmq)
        lines.append(f"{target.label} plug-in: {dest} ({how}); restart GIMP, then use {MENU}")
    return lines
