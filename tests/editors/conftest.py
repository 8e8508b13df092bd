"""Fixtures for driving real GUI Krita under Xvfb (see tests/editors/test_krita.py).

The plugin is installed once per session by the real installer (krita_plugin.installer via
install.py's Installer, vendoring pyzmq from PyPI for Krita's own Python) into a template
HOME, which one warm-up start of Krita then fills with its resource cache. Each test gets a
fresh copy of that HOME (its own TMPDIR, XDG folders and kritarc), so tests are isolated
yet each Krita start takes seconds rather than the first start's ten or more.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.krita_home import edit_kritarc, home_env

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).resolve().parent / "krita_harness"
PROVISION = "sudo bash tests/provision_krita.sh"
XVFB_SCREEN = ["-screen", "0", "1280x1024x24"]
_XVFB: dict = {}


def start_xvfb(*options: str) -> tuple[subprocess.Popen, str]:
    """An Xvfb on a display number it picks itself (-displayfd): (process, number)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), *options],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return proc, number


def xvfb_display() -> str:
    """One Xvfb for the session, on a display number it picks itself (-displayfd), so
    back-to-back Krita runs never race for a display as `xvfb-run -a` can."""
    proc = _XVFB.get("proc")
    if proc is not None and proc.poll() is None:
        return _XVFB["display"]
    proc, number = start_xvfb(*XVFB_SCREEN, "-nolisten", "tcp", "-noreset")
    _XVFB.update(proc=proc, display=f":{number}")
    return _XVFB["display"]


def stop_xvfb() -> None:
    proc = _XVFB.pop("proc", None)
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def krita_missing() -> str | None:
    missing = [tool for tool in ("krita", "Xvfb") if shutil.which(tool) is None]
    if not missing:
        return None
    return f"{', '.join(missing)} not installed: run `{PROVISION}` (Debian/Ubuntu) first"


class KritaRun:
    """One Krita process driven by the harness plugin; `result` is its result.json."""

    def __init__(self, home: Path, out: Path, proc: subprocess.CompletedProcess, seconds: float):
        self.home = home
        self.out = out
        self.returncode = proc.returncode
        self.log = proc.stdout or ""
        self.seconds = seconds
        path = out / "result.json"
        self.result = json.loads(path.read_text()) if path.exists() else None

    def describe(self) -> str:
        lines = [f"krita exited {self.returncode} after {self.seconds:.1f} s"]
        if self.result:
            lines.append("events:\n  " + "\n  ".join(self.result.get("events", [])))
            if self.result.get("error"):
                lines.append("harness error: " + self.result["error"])
            if self.result.get("failed"):
                lines.append("failed: " + "; ".join(self.result["failed"]))
        else:
            lines.append("no result.json was written")
        lines.append("krita output (tail):\n" + "\n".join(self.log.splitlines()[-40:]))
        return "\n".join(lines)

    def run(self, name: str) -> dict:
        assert self.result is not None, self.describe()
        for run in self.result["runs"]:
            if run["name"] == name:
                return run
        raise AssertionError(f"no run {name!r}\n{self.describe()}")

    def raw(self, name: str) -> bytes:
        return (self.out / name).read_bytes()


def run_krita(home: Path, scenario: dict, timeout: float = 120.0) -> KritaRun:
    out = home / "out"
    out.mkdir(exist_ok=True)
    scenario = {"out": str(out), "timeout": timeout - 15, **scenario}
    scenario_path = home / "scenario.json"
    scenario_path.write_text(json.dumps(scenario, indent=1))
    env = home_env(home)
    env["SKETCH_HARNESS_SCENARIO"] = str(scenario_path)
    env["DISPLAY"] = xvfb_display()
    started = time.monotonic()
    try:
        proc = subprocess.run(
            ["krita", "--nosplash"],
            env=env,
            cwd=home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"Krita did not exit within {timeout} s; output tail:\n"
            + "\n".join((exc.stdout or b"").decode(errors="replace").splitlines()[-40:])
        ) from None
    return KritaRun(home, out, proc, time.monotonic() - started)


@pytest.fixture(scope="session")
def krita_template(installed_home, tmp_path_factory, request) -> Path:
    """The installed HOME plus the test harness plugin, warmed up by one Krita start."""
    reason = krita_missing()
    if reason:
        pytest.skip(reason)
    request.addfinalizer(stop_xvfb)
    home = tmp_path_factory.mktemp("krita-template") / "home"
    shutil.copytree(installed_home, home, symlinks=True)
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    shutil.copytree(
        HARNESS, pykrita, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    edit_kritarc(home, "python", {"enable_sketch_cleanup_harness": "true"})
    warm = run_krita(home, {"warmup": True}, timeout=150)
    assert warm.result is not None and warm.result.get("code") == 0, warm.describe()
    shutil.rmtree(home / "out")
    (home / "scenario.json").unlink()
    for scratch in ("tmp", "runtime"):  # Krita's sockets and lock files
        shutil.rmtree(home / scratch)
    return home


def stray_processes(home: Path) -> list[int]:
    """Processes still running in `home` (a backend Krita started and left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == str(home) or cwd.startswith(str(home) + os.sep):
            found.append(int(entry.name))
    return found


@pytest.fixture
def krita_home(krita_template, tmp_path):
    """A fresh copy of the template HOME for one test; afterwards, any process left running
    in it (a backend the test's Krita started) is killed, after the test's own checks."""
    home = tmp_path / "home"
    shutil.copytree(krita_template, home, symlinks=True)
    yield home
    for pid in stray_processes(home):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
