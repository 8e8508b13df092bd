"""One Clean Sketch, from finding the backend to the result, with no editor in sight.

An editor drives a `Session` from its own loop: it calls `step()` every few hundred ms
(and when the client's socket is readable), shows `status` and `fraction`, reads pixels
once the state is READY, hands them to `submit()`, and applies `result` once the state is
DONE with outcome "ok". Nothing here blocks for longer than one short probe, so an editor's
GUI never freezes, and every failure ends as one clear message.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable

from . import defaults, local
from .client import Client, Job
from .options import EditorOptions
from .protocol import (
    EXIT_ADDRESS_IN_USE,
    BackendError,
    BackendUnavailable,
    CleanOptions,
    is_local,
)

STAGES = {
    "sent": "Sending",
    "queued": "Waiting for the backend",
    "loading": "Loading the model for",
    "preprocess": "Preparing",
    "inference": "Cleaning",
    "dense": "Redrawing the dense areas of",
    "postprocess": "Finishing",
    "vectorize": "Tracing the lines of",
    "done": "Adding the layer",
}
ERROR_HINTS = {
    "too_large": "Select a smaller area, or scale the image down, and try again.",
    "busy": "The backend is busy with other jobs: try again in a moment.",
    "empty_image": "The layer has no visible pixels there.",
}
STARTING = "Starting the Sketch Cleanup backend…"
WAITING_FOR_ANOTHER = "Waiting for the Sketch Cleanup backend another program started…"


class State(enum.Enum):
    NEW = "new"
    CONNECTING = "connecting"  # probing for a running backend
    STARTING = "starting"  # a backend was started (by us or another editor) and loads
    READY = "ready"  # connected: the editor reads its pixels and calls submit()
    RUNNING = "running"  # the job is with the backend
    DONE = "done"  # see outcome


class Session:
    """See the module docstring. `settings_place` names where the artist changes the
    backend's address in this editor (for messages); `process` is the editor's one
    BackendProcess, shared by its sessions; `clock` is injectable for tests."""

    def __init__(
        self,
        address: str,
        *,
        key_file: str = "",
        autostart: bool = True,
        job_timeout: float = defaults.JOB_TIMEOUT_S,
        process: local.BackendProcess,
        settings_place: str,
        clock: Callable[[], float] = time.monotonic,
        start_timeout: float = defaults.START_TIMEOUT_S,
        idle_exit: float = defaults.IDLE_EXIT_S,
    ):
        self.address = address
        self.idle_exit = idle_exit  # for a backend this session starts: s idle before it exits
        self.key_file = key_file
        self.autostart = autostart
        self.job_timeout = job_timeout
        self.start_timeout = start_timeout
        self.process = process
        self.settings_place = settings_place
        self.clock = clock
        self.state = State.NEW
        self.endpoint = address
        self.config: dict | None = None
        self.client: Client | None = None
        self.job: Job | None = None
        self.name = "the layer"  # the layer's name, for messages
        self.status = "Connecting to the Sketch Cleanup backend…"
        self.started_backend = False
        self.waiting_for_another = False
        self.outcome: str | None = None  # ok | error | cancelled
        self.message = ""
        self.details: str | None = None
        self.result: tuple[dict, bytes] | None = None
        self.info: dict = {}  # the backend's `info` answer (models, device, limits)
        self.svg: str | None = None  # the result traced, when the options asked for it
        self._deadline = 0.0

    @classmethod
    def for_options(
        cls,
        options: EditorOptions,
        process: local.BackendProcess,
        settings_place: str,
        name: str = "",
    ) -> Session:
        """A session with the backend settings of an editor's EditorOptions."""
        session = cls(
            options.server,
            key_file=options.server_key_file,
            autostart=options.autostart,
            job_timeout=options.timeout_minutes * 60,
            idle_exit=options.idle_exit_minutes * 60,
            process=process,
            settings_place=settings_place,
        )
        session.name = name or session.name
        return session

    # -- what the editor reads
    @property
    def done(self) -> bool:
        return self.state is State.DONE

    @property
    def fraction(self) -> float | None:
        """Progress 0-1 while running; None while connecting or starting (busy indicator)."""
        return self.job.fraction if self.state is State.RUNNING and self.job else None

    @property
    def local(self) -> bool:
        return is_local(self.endpoint)

    # -- driving
    def start(self) -> None:
        try:
            self.endpoint, self.config = local.resolve_endpoint(self.address)
            server_key = local.read_server_key(self.key_file)
        except ValueError as exc:
            return self._fail(f"{exc} Fix it in {self.settings_place}.")
        try:
            self.client = Client(self.endpoint, server_key=server_key)
        except BackendError as exc:  # no pyzmq for this Python
            return self._fail(f"Cannot talk to the backend: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - e.g. an address libzmq cannot parse
            return self._fail(f"Cannot use the backend address {self.endpoint!r}: {exc}")
        self.state = State.CONNECTING
        wait = defaults.CONNECT_WAIT_S if self.local else defaults.REMOTE_CONNECT_WAIT_S
        self._deadline = self.clock() + wait

    def step(self) -> None:
        """Advance as far as possible without blocking for more than one short probe."""
        if self.state is State.CONNECTING:
            self._connect()
        elif self.state is State.STARTING:
            self._wait_for_start()
        elif self.state is State.RUNNING:
            self._follow()

    def submit(self, pixels: bytes, width: int, height: int, fmt: str, options: CleanOptions):
        """Send the layer (state READY → RUNNING); its size is checked before it is sent."""
        assert self.state is State.READY and self.client is not None
        try:
            self.job = self.client.start_clean(pixels, width, height, fmt, options)
        except BackendError as exc:
            return self._fail(self.error_message(exc))
        self.state = State.RUNNING
        self.status = f"Cleaning “{self.name}” ({width}×{height})…"
        self._deadline = self.clock() + self.job_timeout

    def drive(
        self,
        states: tuple[State, ...],
        tick: Callable[[Session], bool],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Step until the state leaves `states`, for a plug-in that may block its own
        process (GIMP's): tick(session) shows progress and returns False to cancel."""
        while self.state in states:
            self.step()
            if not tick(self):
                return self.cancel()
            sleep(0.05 if self.state is State.RUNNING else 0.2)

    def check_fits(self, width: int, height: int, fmt: str) -> bool:
        """Before reading a large layer: False (and DONE with an error) if it cannot go."""
        assert self.client is not None
        try:
            self.client.check_fits(width, height, fmt)
            return True
        except BackendError as exc:
            self._fail(self.error_message(exc))
            return False

    def cancel(self) -> None:
        if self.state is State.DONE:
            return
        if self.state is State.RUNNING and self.job is not None and self.client is not None:
            try:
                self.client.cancel(self.job)
            except BackendError:
                pass  # the backend is gone: nothing to cancel
        self._end("cancelled", "Cancelled.")

    def fail(self, message: str, details: str | None = None) -> None:
        """End with an error found on the editor's side (e.g. applying the result failed)."""
        self._fail(message, details)

    # -- states
    def _probe(self) -> bool:
        """Whether the backend answers `info` now; a refusal ends the session."""
        assert self.client is not None
        timeout = defaults.PROBE_TIMEOUT_S if self.local else defaults.REMOTE_PROBE_TIMEOUT_S
        try:
            self.info = self.client.info(timeout=timeout)
            return True
        except BackendUnavailable:
            return False
        except BackendError as exc:
            self._fail(f"The backend at {self.endpoint} refused the connection: {exc.message}")
            return False

    def _connect(self) -> None:
        if self._probe():
            return self._ready()
        if self.state is State.DONE:
            return
        if self.process.running and self.process.owns(self.endpoint):
            return self._starting()  # ours, started earlier and still loading
        if self.clock() < self._deadline:
            return  # try again on the next step
        if self.autostart and self.config is not None:
            return self._start_backend()
        self._fail(self.no_backend_message())

    def _start_backend(self) -> None:
        assert self.config is not None
        self.process.stop()  # one we started for another address, if any
        try:
            self.process.start(self.config, self.endpoint, idle_exit=self.idle_exit)
        except (local.LaunchError, OSError) as exc:
            return self._fail(
                f"Could not start the Sketch Cleanup backend: {exc}. Run install.py again.",
                "Command: " + local.describe_command(self.config.get("command") or []),
            )
        self.started_backend = True
        self._starting()

    def _starting(self) -> None:
        self.state = State.STARTING
        self.status = STARTING
        self._deadline = self.clock() + self.start_timeout

    def _wait_for_start(self) -> None:
        process = self.process
        if self.started_backend and process.exit_code == EXIT_ADDRESS_IN_USE:
            # another editor's backend bound the address first and is still loading: use it
            self.started_backend, self.waiting_for_another = False, True
            process.forget()  # so its exit is not taken for the job's backend dying
            self.status = WAITING_FOR_ANOTHER
        if not self.waiting_for_another and not process.running:
            return self._fail(
                f"The Sketch Cleanup backend {process.exit_description()} while starting.",
                self.log_details(),
            )
        if self.clock() > self._deadline:
            if self.waiting_for_another:
                return self._fail(
                    f"Another program holds {self.endpoint}, but no Sketch Cleanup backend "
                    f"answered there within {self.start_timeout:.0f} s. Close that program "
                    f"or change the address in {self.settings_place}."
                )
            details = self.log_details()
            process.stop()
            return self._fail(
                f"The Sketch Cleanup backend did not answer within {self.start_timeout:.0f} s "
                "of starting, so it was stopped.",
                details,
            )
        if self._probe():
            self._ready()

    def _ready(self) -> None:
        self.state = State.READY
        self.status = f"Sending “{self.name}”…"

    def _follow(self) -> None:
        assert self.client is not None and self.job is not None
        try:
            self.client.pump(0)
        except BackendUnavailable as exc:
            return self._fail(self.error_message(exc), self.log_details())
        job = self.job
        if job.finished:
            if job.error is not None:
                return self._fail(self.error_message(job.error), self.log_details())
            if job.cancelled:
                return self._end("cancelled", "The backend cancelled the job.")
            assert job.result is not None
            self.result = (job.result, job.pixels or b"")
            self.svg = job.svg
            self.status = STAGES["done"] + "…"
            return self._end("ok", "")
        if self.process.owns(self.endpoint) and not self.process.running:
            return self._fail(
                f"The Sketch Cleanup backend {self.process.exit_description()} while cleaning "
                f"“{self.name}”; nothing was changed.",
                self.log_details(),
            )
        if self.clock() > self._deadline:
            try:
                self.client.cancel(job)
            except BackendError:
                pass
            return self._fail(
                f"The backend took longer than {self.job_timeout / 60:g} minutes and the job "
                "was cancelled. Select a smaller area, lower the detail factor, or raise the "
                f"limit in {self.settings_place}."
            )
        self.status = f"{STAGES.get(job.stage, job.stage.capitalize())} “{self.name}”…"

    # -- ending
    def _fail(self, message: str, details: str | None = None) -> None:
        self._end("error", message, details)

    def _end(self, outcome: str, message: str, details: str | None = None) -> None:
        if self.state is State.DONE:
            return
        self.state = State.DONE
        self.outcome, self.message, self.details = outcome, message, details
        if self.client is not None:
            self.client.close()

    # -- messages
    def log_details(self) -> str | None:
        if self.process.log_path is None or self.process.endpoint != self.endpoint:
            return None
        return f"Backend log ({self.process.log_path}):\n{self.process.log_tail()}"

    def no_backend_message(self) -> str:
        text = f"No Sketch Cleanup backend answers at {self.endpoint}."
        if not self.local or self.key_file:
            return (
                f"{text} Check that the backend runs on that computer, that the address in "
                f"{self.settings_place} is right, and that the server key file is that "
                "backend's server.key (a wrong key looks exactly like a backend that is down)."
            )
        if os.path.exists("/.flatpak-info"):  # the sandbox can neither see nor start it
            return (
                f"{text} The editor runs as a Flatpak here and cannot start the backend "
                "itself: start it outside the editor with "
                "`~/.local/share/sketch-cleanup/bin/sketch-cleanup serve`."
            )
        if self.config is None:
            return (
                f"{text} Start it with `sketch-cleanup serve`, or run install.py, which sets "
                "up a backend that the plugin starts by itself when needed."
            )
        return (
            f"{text} Starting it automatically is turned off in {self.settings_place}; "
            "turn it on, or start it by hand with `sketch-cleanup serve`."
        )

    def error_message(self, exc: BackendError) -> str:
        if exc.code == "unavailable":
            extra = ""
            if self.process.owns(self.endpoint):
                extra = f" The backend the plugin started {self.process.exit_description()}."
            return f"Lost the Sketch Cleanup backend: {exc.message}.{extra} Nothing was changed."
        hint = ERROR_HINTS.get(exc.code, "Nothing was changed.")
        return f"The backend could not clean “{self.name}”: {exc.message} [{exc.code}]. {hint}"
