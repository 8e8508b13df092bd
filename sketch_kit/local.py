"""The backend on this computer: where install.py put it, starting it, reading its keys.

Both plugins start the installed backend the same way, with the same environment rules,
so a fix here reaches every editor. Only a backend an editor started is ever stopped by it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import defaults
from .protocol import DEFAULT_ENDPOINT, BackendUnavailable, is_local

# Variables a host application sets for its own bundled Python or libraries (Krita's
# Windows/macOS/AppImage builds, GIMP's plug-in environment) that would break the backend's
# virtual environment.
HOST_PYTHON_VARS = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE")
APPIMAGE_VARS = ("LD_LIBRARY_PATH", "QT_PLUGIN_PATH", "PYTHONDONTWRITEBYTECODE")
LOG_NAME = "backend.log"


class KeyFileError(ValueError):
    """A server key file that cannot be used; the message says which file to pass instead."""


def data_dir() -> Path:
    """Where install.py puts the backend's environment, model and backend.json."""
    if os.environ.get("SKETCH_CLEANUP_HOME"):
        return Path(os.environ["SKETCH_CLEANUP_HOME"])
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / (
            "sketch-cleanup"
        )
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "sketch-cleanup"
    xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(xdg) / "sketch-cleanup"


def backend_config() -> dict | None:
    """How to start the local backend ({"command": [...], "env": {}, "endpoint": ...})."""
    try:
        config = json.loads((data_dir() / "backend.json").read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def installed_endpoint(config: dict | None) -> str:
    return (config or {}).get("endpoint") or DEFAULT_ENDPOINT


def resolve_endpoint(address: str) -> tuple[str, dict | None]:
    """(endpoint to use, backend.json's config when an editor may start a backend there).

    An empty address means the installed backend's (or the default). Only a local endpoint
    is ever started, bound to that address.
    """
    config = backend_config()
    endpoint = (address or "").strip() or installed_endpoint(config)
    if "://" not in endpoint:
        raise ValueError(
            f"The backend address {endpoint!r} is not a ZeroMQ endpoint like {DEFAULT_ENDPOINT}."
        )
    startable = config if config and config.get("command") and is_local(endpoint) else None
    return endpoint, startable


def read_server_key(path: str | Path | None) -> str | None:
    """The backend's CURVE public key (Z85) from its server.key, or from a file holding just
    the 40-character key; None for no path. The secret file is refused: it stays on the
    backend's computer."""
    if not path or not str(path).strip():
        return None
    path = Path(str(path).strip()).expanduser()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise KeyFileError(f"Cannot read the server key file {path}: {exc.strerror}.") from None
    lines = [line.strip() for line in text.splitlines()]
    if any(line.startswith("secret-key") for line in lines):
        raise KeyFileError(
            f"{path} is the backend's secret key file, which must stay on the backend: "
            "pass its server.key file instead."
        )
    key = ""
    for line in lines:
        if line.startswith("public-key"):  # a ZPL certificate as pyzmq writes it
            key = line.partition("=")[2].strip().strip('"')
            break
    else:  # just the key (Z85 text may contain '=' and ':')
        content = [line for line in lines if line and not line.startswith("#")]
        key = content[0] if len(content) == 1 else ""
    if len(key) != 40:
        raise KeyFileError(
            f"{path} holds no CURVE public key: pass the server.key file that "
            "`python -m backend keys` wrote (not the .key_secret one)."
        )
    return key


def launch_environment(config: dict, base: dict[str, str] | None = None) -> dict[str, str]:
    """The backend's environment: the editor's, minus what its own Python set, plus
    backend.json's `env`."""
    env = dict(os.environ if base is None else base)
    for name in HOST_PYTHON_VARS:
        env.pop(name, None)
    if "APPIMAGE" in env:
        for name in APPIMAGE_VARS:
            env.pop(name, None)
    env.update({str(k): str(v) for k, v in (config.get("env") or {}).items()})
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def describe_command(command: list[str]) -> str:
    return " ".join(f'"{c}"' if " " in c else c for c in command)


def log_tail(path: Path | None, lines: int = 25) -> str:
    if path is None:
        return ""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class LaunchError(RuntimeError):
    pass


def with_idle_exit(command: list[str], seconds: float) -> list[str]:
    """`command` with `--idle-exit seconds` in place of any it had (backend.json's is for
    people who start it by hand; an editor says how long its own backend may sit idle)."""
    out: list[str] = []
    parts = iter(command)
    for part in parts:
        if part == "--idle-exit":
            next(parts, None)  # and its value
        elif not part.startswith("--idle-exit="):
            out.append(part)
    return [*out, "--idle-exit", f"{seconds:g}"]


class BackendProcess:
    """The backend process one editor started (at most one at a time).

    detached: it outlives the editor (GIMP's plug-in process ends after every run, and GIMP
    kills a cancelled plug-in's process group); otherwise the editor stops it on exit.
    """

    def __init__(self, started_by: str, detached: bool = False):
        self.started_by = started_by
        self.detached = detached
        self.process: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self.log_path: Path | None = None
        self.command: list[str] = []

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.running and self.process else None

    @property
    def exit_code(self) -> int | None:
        """The exit code of a backend that ended; None while running or never started.
        Negative: killed by that signal (POSIX)."""
        return None if self.process is None else self.process.poll()

    def exit_description(self) -> str:
        code = self.exit_code
        if self.process is None:
            return "was never started"
        if code is None:
            return "is running"
        if code < 0:
            return f"crashed (signal {-code})"
        return f"exited with code {code}"

    def start(
        self,
        config: dict,
        endpoint: str,
        home: Path | None = None,
        idle_exit: float = defaults.IDLE_EXIT_S,
    ) -> None:
        """Run config["command"] + ["--bind", endpoint], logging to HOME/backend.log; it
        exits by itself after `idle_exit` s without requests (0: never)."""
        command = [str(part) for part in config.get("command") or []]
        if not command:
            raise LaunchError("backend.json has no command")
        command = with_idle_exit(command, idle_exit) + ["--bind", endpoint]
        home = home or data_dir()
        kwargs: dict = {}
        if sys.platform == "win32":
            flags = subprocess.CREATE_NO_WINDOW
            if self.detached:
                flags |= subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
            kwargs["creationflags"] = flags
        elif self.detached:
            kwargs["start_new_session"] = True
        try:
            home.mkdir(parents=True, exist_ok=True)
            log_path = home / LOG_NAME
            with open(log_path, "ab") as log:
                log.write(f"\n--- started by {self.started_by} {time.ctime()}\n".encode())
                log.flush()
                process = subprocess.Popen(
                    command,
                    env=launch_environment(config),
                    cwd=str(home),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    close_fds=True,
                    **kwargs,
                )
        except OSError as exc:
            raise LaunchError(f"could not run {command[0]}: {exc}") from None
        self.process, self.endpoint, self.log_path, self.command = (
            process,
            endpoint,
            log_path,
            command,
        )

    def owns(self, endpoint: str) -> bool:
        """Whether the backend at `endpoint` is the one this editor started."""
        return self.process is not None and self.endpoint == endpoint

    def forget(self) -> None:
        """Stop watching a process that gave up its address (it exits by itself)."""
        self.process = None

    def log_tail(self, lines: int = 25) -> str:
        return log_tail(self.log_path, lines)

    def stop(self) -> None:
        """Stop the backend this editor started (idempotent; called when the editor exits)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            try:
                process.wait(3)
            except subprocess.TimeoutExpired:
                pass


def wait_until_ready(
    endpoint: str,
    alive: Callable[[], bool],
    timeout: float,
    server_key: str | bytes | None = None,
) -> dict:
    """Block until the backend at `endpoint` answers `info` (its answer), for scripts and
    tools; editors step a Session instead. Raises BackendUnavailable when `alive()` turns
    False or `timeout` s pass."""
    from .client import Client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise BackendUnavailable(f"the backend for {endpoint} exited while starting")
        with Client(endpoint, server_key=server_key) as client:
            try:
                return client.info(timeout=1.0)
            except BackendUnavailable:
                time.sleep(0.3)
    raise BackendUnavailable(f"no backend answered at {endpoint} within {timeout:g} s")
