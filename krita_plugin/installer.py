"""Installs the Krita plugin for install.py: `install(installer, uninstall=False) -> summary`.

For every Krita found (distro package or AppImage, Flatpak, Windows, macOS) it copies the
plugin into that Krita's user resource folder (pykrita/ and actions/), vendors pyzmq built
for *that Krita's* Python (Krita ships none), and enables the plugin in kritarc. Running it
again repairs and updates in place; `uninstall` removes exactly what it added.

Which Python a Krita embeds, and how it is found:
- Linux distro package: the `libpython3.X` that Krita's Python plugin (kritapykrita.so)
  links against; failing that, the system `python3` (distro Kritas use it).
- AppImage: 3.10 for Krita 5.2 (from the file name's version), 3.13 for 5.3+.
- Flatpak: the libpython3.X inside the installed app; failing that 3.11 (Krita 5.2).
- Windows / macOS: the python3X.dll / Python.framework inside the install; failing that
  3.10 (what Krita 5.2 bundles).
SKETCH_CLEANUP_KRITA_PYTHON=3.X overrides all of these.

When no Krita is found, the plugin still goes into the usual user folder of this platform
(a Krita installed later picks it up) and the summary says so: the guessed Python may then
be wrong, and running install.py again after installing Krita fixes it.
"""

from __future__ import annotations

import glob
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

NAME = "sketch_cleanup"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PACKAGE = HERE / NAME
DESKTOP = HERE / f"{NAME}.desktop"
ACTIONS = HERE / f"{NAME}.action"
KIT = ROOT / "sketch_kit"  # the shared editor kit, copied into the plugin's kit/
VENDOR_MARKER = "VENDORED_FOR"
FLATPAK_ID = "org.kde.krita"


@dataclass
class KritaTarget:
    kind: str  # "linux", "appimage", "flatpak", "windows", "macos"
    label: str  # for people: "Krita (distro package)"
    resources: Path  # Krita's user resource folder: holds pykrita/ and actions/
    kritarc: Path
    python: str  # "3.11"
    python_how: str  # how the version was found
    platforms: list[str] = field(default_factory=list)
    found: bool = True  # False: no Krita seen, installed for one to come

    @property
    def pykrita(self) -> Path:
        return self.resources / "pykrita"


# ---------------------------------------------------------------- finding Krita


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else _home() / default


def _linux_platforms(arch: str | None = None) -> list[str]:
    arch = arch or platform.machine() or "x86_64"
    if arch == "amd64":
        arch = "x86_64"
    return [f"manylinux_2_28_{arch}", f"manylinux_2_17_{arch}", f"manylinux2014_{arch}"]


def _libpython_version(path: Path) -> str | None:
    """The 3.X of the libpython a shared library links against (read from its bytes)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    found = re.search(rb"libpython(3\.\d+)", data)
    return found.group(1).decode() if found else None


def _system_python_version() -> str | None:
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and Path(candidate).exists():
            try:
                out = subprocess.run(
                    [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
            except (OSError, subprocess.SubprocessError):
                continue
            if out.returncode == 0 and re.fullmatch(r"3\.\d+", out.stdout.strip()):
                return out.stdout.strip()
    return None


def _linux_native(krita: str) -> KritaTarget:
    prefix = Path(krita).resolve().parent.parent
    patterns = [
        f"{base}/{sub}/kritaplugins/kritapykrita.so"
        for base in (prefix, "/usr", "/usr/local")
        for sub in ("lib/*", "lib64", "lib")
    ]
    version, how = None, ""
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            version = _libpython_version(Path(path))
            if version:
                how = f"{path} links libpython{version}"
                break
        if version:
            break
    if not version:
        version = _system_python_version() or f"{sys.version_info[0]}.{sys.version_info[1]}"
        how = "the system python3 (distro Krita uses it)"
    return KritaTarget(
        "linux",
        f"Krita ({krita})",
        _xdg("XDG_DATA_HOME", ".local/share") / "krita",
        _xdg("XDG_CONFIG_HOME", ".config") / "kritarc",
        version,
        how,
        _linux_platforms(),
    )


def _appimages() -> list[Path]:
    found = []
    for folder in ("Applications", "Downloads", "bin", ".local/bin", "Desktop"):
        found += sorted((_home() / folder).glob("[kK]rita*.[aA]pp[iI]mage"))
    return found


def _appimage_target(appimage: Path) -> KritaTarget:
    match = re.search(r"(\d+)\.(\d+)", appimage.name)
    major_minor = (int(match.group(1)), int(match.group(2))) if match else (5, 2)
    version = "3.13" if major_minor >= (5, 3) else "3.10"
    return KritaTarget(
        "appimage",
        f"Krita AppImage ({appimage})",
        _xdg("XDG_DATA_HOME", ".local/share") / "krita",
        _xdg("XDG_CONFIG_HOME", ".config") / "kritarc",
        version,
        f"Krita {major_minor[0]}.{major_minor[1]} AppImages bundle Python {version}",
        _linux_platforms(),
    )


def _flatpak_target() -> KritaTarget | None:
    app_dirs = [
        Path("/var/lib/flatpak/app") / FLATPAK_ID,
        _xdg("XDG_DATA_HOME", ".local/share") / "flatpak" / "app" / FLATPAK_ID,
    ]
    user_dir = _home() / ".var" / "app" / FLATPAK_ID
    installed = [d for d in app_dirs if d.is_dir()]
    if not installed and not user_dir.is_dir():
        return None
    version, how = None, ""
    for app in installed:
        for lib in sorted(app.glob("current/active/files/lib/libpython3.*.so*")):
            found = re.search(r"libpython(3\.\d+)", lib.name)
            if found:
                version, how = found.group(1), f"{lib}"
                break
    if not version:
        version, how = "3.11", "the Krita 5.2 Flatpak bundles Python 3.11"
    return KritaTarget(
        "flatpak",
        "Krita (Flatpak org.kde.krita)",
        user_dir / "data" / "krita",
        user_dir / "config" / "kritarc",
        version,
        how,
        _linux_platforms(),
    )


def _windows_target() -> KritaTarget:
    appdata = Path(os.environ.get("APPDATA") or _home() / "AppData" / "Roaming")
    local = Path(os.environ.get("LOCALAPPDATA") or _home() / "AppData" / "Local")
    roots = [
        Path(os.environ.get(var, "")) / name
        for var in ("ProgramFiles", "ProgramW6432", "LOCALAPPDATA")
        for name in ("Krita (x64)", "Krita", "Programs/Krita (x64)")
        if os.environ.get(var)
    ]
    version, how, found = None, "", False
    for root in roots:
        for dll in sorted(root.glob("bin/python3*.dll")):
            digits = re.fullmatch(r"python3(\d+)\.dll", dll.name, re.IGNORECASE)
            if digits:
                version, how, found = f"3.{digits.group(1)}", str(dll), True
                break
        found = found or (root / "bin" / "krita.exe").exists()
        if version:
            break
    if not version:
        version, how = "3.10", "Krita 5.2 for Windows bundles Python 3.10"
    return KritaTarget(
        "windows",
        "Krita for Windows",
        appdata / "krita",
        local / "kritarc",
        version,
        how,
        ["win_amd64"],
        found,
    )


def _macos_target() -> KritaTarget:
    version, how, found = None, "", False
    for app in (Path("/Applications/krita.app"), _home() / "Applications" / "krita.app"):
        if app.is_dir():
            found = True
            versions = sorted(app.glob("Contents/Frameworks/Python.framework/Versions/3.*"))
            if versions:
                version, how = versions[-1].name, str(versions[-1])
                break
    if not version:
        version, how = "3.10", "Krita 5.2 for macOS bundles Python 3.10"
    return KritaTarget(
        "macos",
        "Krita for macOS",
        _home() / "Library" / "Application Support" / "krita",
        _home() / "Library" / "Preferences" / "kritarc",
        version,
        how,
        ["macosx_10_15_universal2", "macosx_11_0_arm64", "macosx_10_15_x86_64"],
        found,
    )


def find_kritas() -> list[KritaTarget]:
    """Every Krita this user has, each with its folders and Python; never empty."""
    if sys.platform == "win32":
        targets = [_windows_target()]
    elif sys.platform == "darwin":
        targets = [_macos_target()]
    else:
        targets = []
        krita = shutil.which("krita")
        appimages = _appimages()
        if krita:
            targets.append(_linux_native(krita))
        elif appimages:  # shares the native user folder: one Python per folder
            targets.append(_appimage_target(appimages[-1]))
        flatpak = _flatpak_target()
        if flatpak:
            targets.append(flatpak)
        if not targets:
            guess = _linux_native("/usr/bin/krita")
            guess.found = False
            guess.label = "Krita (not found)"
            targets.append(guess)
    override = os.environ.get("SKETCH_CLEANUP_KRITA_PYTHON")
    if override:
        for target in targets:
            target.python, target.python_how = override, "SKETCH_CLEANUP_KRITA_PYTHON"
    return targets


# ---------------------------------------------------------------- kritarc


def set_ini_value(text: str, section: str, key: str, value: str | None) -> str:
    """`text` with key=value in [section] (or the key removed when value is None).

    Edits lines in place and leaves everything else byte for byte (KConfig files hold
    keys and groups that configparser would mangle).
    """
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in text else "\n"
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if start is None:
        if value is None:
            return text
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        if lines and lines[-1].strip():
            lines.append(newline)
        lines += [f"[{section}]{newline}", f"{key}={value}{newline}"]
        return "".join(lines)
    end = start + 1
    while end < len(lines) and not lines[end].lstrip().startswith("["):
        end += 1
    for i in range(start + 1, end):
        if "=" in lines[i] and lines[i].split("=", 1)[0].strip() == key:
            if value is None:
                del lines[i]
            else:
                ending = newline if lines[i].endswith(("\n", "\r")) else ""
                lines[i] = f"{key}={value}{ending}"
            return "".join(lines)
    if value is None:
        return text
    last = end
    while last > start + 1 and not lines[last - 1].strip():
        last -= 1
    if not lines[last - 1].endswith(("\n", "\r")):
        lines[last - 1] += newline
    lines.insert(last, f"{key}={value}{newline}")
    return "".join(lines)


def _edit_kritarc(installer, path: Path, value: str | None) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    updated = set_ini_value(text, "python", f"enable_{NAME}", value)
    if updated == text:
        return False
    installer.say(f"{'enabling' if value else 'disabling'} the plugin in {path}")
    if not installer.dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(updated, encoding="utf-8")
    return True


# ---------------------------------------------------------------- install / uninstall


def _copy_plugin(installer, target: KritaTarget) -> None:
    package = target.pykrita / NAME
    installer.say(f"copying the plugin into {package}")
    if installer.dry_run:
        return
    package.mkdir(parents=True, exist_ok=True)
    for old in package.iterdir():  # stale modules from an older version must not linger
        if old.name == "vendor":
            continue
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    for path in PACKAGE.iterdir():
        if path.name == "__pycache__" or path.name == "vendor":
            continue
        if path.is_dir():
            shutil.copytree(path, package / path.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, package / path.name)
    shutil.copytree(KIT, package / "kit" / KIT.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(DESKTOP, target.pykrita / DESKTOP.name)
    actions = target.resources / "actions"
    actions.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ACTIONS, actions / ACTIONS.name)


def _vendor(installer, target: KritaTarget) -> None:
    vendor = target.pykrita / NAME / "vendor"
    wanted = f"{target.python} {' '.join(target.platforms)}"
    marker = vendor / VENDOR_MARKER
    try:
        current = marker.read_text().strip()
    except OSError:
        current = None
    if vendor.exists() and current != wanted:
        installer.say(f"replacing pyzmq in {vendor} (was for {current or 'unknown'})")
        if not installer.dry_run:
            shutil.rmtree(vendor)
    installer.say(
        f"pyzmq for Krita's Python {target.python} ({target.python_how}), {target.platforms[0]}"
    )
    try:
        installer.vendor_pyzmq(vendor, target.python, target.platforms)
    except subprocess.CalledProcessError:
        installer.say(
            f"could not download pyzmq for Python {target.python}: the plugin cannot reach the "
            "backend until it is there. Check the network (pypi.org) and run install.py again."
        )
        raise
    if not installer.dry_run:
        marker.write_text(wanted + "\n")


def _remove(installer, target: KritaTarget) -> list[str]:
    removed = []
    for path in (
        target.pykrita / NAME,
        target.pykrita / DESKTOP.name,
        target.resources / "actions" / ACTIONS.name,
    ):
        if path.exists():
            installer.say(f"removing {path}")
            removed.append(str(path))
            if not installer.dry_run:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    if _edit_kritarc(installer, target.kritarc, None):
        removed.append(f"enable_{NAME} from {target.kritarc}")
    return removed


def install(installer, uninstall: bool = False) -> list[str]:
    """Install (or remove) the plugin for every Krita found; return summary lines."""
    summary = []
    for target in find_kritas():
        if uninstall:
            removed = _remove(installer, target)
            if removed:
                summary.append(f"{target.label}: removed the Sketch Cleanup plugin")
            else:
                summary.append(f"{target.label}: no Sketch Cleanup plugin to remove")
            continue
        if not target.found:
            installer.say(
                "Krita was not found (looked for `krita` on PATH, Krita AppImages in ~/"
                "Applications and ~/Downloads, and the Flatpak org.kde.krita). Installing the "
                f"plugin into {target.pykrita} anyway, for Python {target.python} "
                f"({target.python_how}); run install.py again after installing Krita."
            )
        _copy_plugin(installer, target)
        _vendor(installer, target)
        _edit_kritarc(installer, target.kritarc, "true")
        where = f"{target.pykrita / NAME} (pyzmq for Python {target.python})"
        if target.found:
            summary.append(
                f"{target.label}: plugin in {where}, enabled in {target.kritarc}. Restart "
                "Krita, then use Filter ▸ Clean Sketch (Ctrl+Alt+K)"
            )
        else:
            summary.append(
                f"Krita not found: plugin installed into {where} for a Krita installed "
                "later; run install.py again once Krita is there"
            )
    return summary
