"""Live preview: the result of a region of the layer, re-run as the artist changes options.

An editor's dialog calls `show(...)` whenever an option changes and `poll()` from a timer.
At most one preview job is in flight: a newer request cancels the one before, so the
backend never works on a stale look. The first request finds (or starts) the backend the
way a Clean Sketch does, through a Session.
"""

from __future__ import annotations

from dataclasses import dataclass

from .client import Client, Job
from .protocol import BackendError, CleanOptions
from .session import Session, State


@dataclass
class Request:
    """One preview: the whole layer (auto scale measures all of it) and the region shown."""

    pixels: bytes
    width: int
    height: int
    fmt: str
    options: CleanOptions
    region: tuple[int, int, int, int]


class Previewer:
    """status: what to show instead of a picture (connecting, cleaning, an error)."""

    def __init__(self, session: Session):
        self.session = session
        self.client: Client | None = None
        self.job: Job | None = None
        self.pending: Request | None = None
        self.status = "Preview: connecting to the backend…"
        self.error: str | None = None
        self.info: dict = {}  # the backend's `info` answer, once connected

    def show(self, request: Request) -> None:
        """Ask for `request`; replaces whatever was asked before."""
        self.pending = request
        self.error = None
        if self.client is None and self.session.state is State.NEW:
            self.session.start()

    def poll(self) -> tuple[dict, bytes] | None:
        """Advance; the newest finished preview (header, region pixels), else None."""
        if self.client is None:
            self._connect()
            return None
        try:
            if self.pending is not None:
                self._send(self.pending)
                self.pending = None
            self.client.pump(0)
        except BackendError as exc:
            self._failed(exc.message)
            return None
        job = self.job
        if job is None or not job.finished:
            return None
        self.job = None
        if job.error is not None:
            self._failed(job.error.message)
            return None
        if job.cancelled or job.result is None:
            return None
        self.status = f"Preview of {job.width}×{job.height} px of the layer"
        return job.result, job.pixels or b""

    def close(self) -> None:
        if self.client is not None:
            if self.job is not None and not self.job.finished:
                try:
                    self.client.cancel(self.job)
                except BackendError:
                    pass
            self.client.close()
        self.session.cancel()

    # -- inside
    def _connect(self) -> None:
        session = self.session
        if session.state is State.NEW:
            return
        session.step()
        self.status = "Preview: " + session.status[0].lower() + session.status[1:]
        if session.state is State.READY:
            self.client = session.client
            session.client = None  # the preview keeps the connection
            self.info = session.info
            self.status = "Preview: cleaning…"
        elif session.done:
            self._failed(session.message)
        return None

    def _send(self, request: Request) -> None:
        assert self.client is not None
        if self.job is not None and not self.job.finished:
            self.client.cancel(self.job)  # stale: the artist moved on
        self.job = self.client.start_clean(
            request.pixels,
            request.width,
            request.height,
            request.fmt,
            request.options,
            region=request.region,
        )
        self.status = "Preview: cleaning…"

    def _failed(self, message: str) -> None:
        self.error = message
        self.status = f"No preview: {message}"
