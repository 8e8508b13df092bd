"""Starts the local backend that install.py set up, and stops it when Krita exits.

Only a backend this plugin started is ever stopped; one the artist started by hand (or that
another program uses) is left alone. Nothing here blocks the GUI for more than a moment:
`start` returns once the process runs, and readiness is polled by the caller.
"""

from __future__ import annotations

from pathlib import Path

from .qt import QtCore

# Variables a host application sets for its own bundled Python or libraries (Krita's
# Windows/macOS/AppImage builds do) that would break the backend's virtual environment.
HOST_PYTHON_VARS = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE")
APPIMAGE_VARS = ("LD_LIBRARY_PATH", "QT_PLUGIN_PATH", "PYTHONDONTWRITEBYTECODE")


class LaunchError(RuntimeError):
    pass


class Launcher:
    def __init__(self):
        self.process: QtCore.QProcess | None = None
        self.endpoint: str | None = None
        self.log_path: Path | None = None
        self.command: list[str] = []

    @property
    def running(self) -> bool:
        return (
            self.process is not None
            and self.process.state() != QtCore.QProcess.ProcessState.NotRunning
        )

    @property
    def pid(self) -> int | None:
        return int(self.process.processId()) if self.running else None

    def start(self, config: dict, endpoint: str, workdir: Path) -> None:
        """Run config["command"] + ["--bind", endpoint] with config["env"]; raise LaunchError."""
        command = [str(part) for part in config.get("command") or []]
        if not command:
            raise LaunchError("backend.json has no command")
        command += ["--bind", endpoint]
        env = QtCore.QProcessEnvironment.systemEnvironment()
        for name in HOST_PYTHON_VARS:
            env.remove(name)
        if env.contains("APPIMAGE"):
            for name in APPIMAGE_VARS:
                env.remove(name)
        for name, value in (config.get("env") or {}).items():
            env.insert(str(name), str(value))
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("TF_CPP_MIN_LOG_LEVEL", env.value("TF_CPP_MIN_LOG_LEVEL", "2"))

        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "krita-backend.log"
        process = QtCore.QProcess()
        process.setProcessEnvironment(env)
        process.setWorkingDirectory(str(workdir))
        process.setProcessChannelMode(QtCore.QProcess.ProcessChannelMode.MergedChannels)
        process.setStandardOutputFile(str(self.log_path))
        process.start(command[0], command[1:])
        if not process.waitForStarted(15000):
            reason = process.errorString()
            raise LaunchError(f"could not run {command[0]}: {reason}")
        self.process = process
        self.endpoint = endpoint
        self.command = command

    def exit_description(self) -> str:
        if self.process is None:
            return "was never started"
        if self.running:
            return "is running"
        if self.process.exitStatus() == QtCore.QProcess.ExitStatus.CrashExit:
            return "crashed"
        return f"exited with code {self.process.exitCode()}"

    @property
    def exit_code(self) -> int | None:
        """The exit code of a backend that exited normally; None while running or crashed."""
        if self.process is None or self.running:
            return None
        if self.process.exitStatus() != QtCore.QProcess.ExitStatus.NormalExit:
            return None
        return int(self.process.exitCode())

    def log_tail(self, lines: int = 25) -> str:
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the backend if this plugin started it (idempotent; called when Krita exits)."""
        process, self.process = self.process, None
        if process is None or process.state() == QtCore.QProcess.ProcessState.NotRunning:
            return
        process.terminate()
        if not process.waitForFinished(5000):
            process.kill()
            process.waitForFinished(3000)


def describe_command(command: list[str]) -> str:
    return " ".join(f'"{c}"' if " " in c else c for c in command)
