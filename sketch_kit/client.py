"""A client for one backend (or broker) that never blocks without a timeout.

An editor calls `Client.pump()` from its event loop (or `Client.wait()` with a deadline)
and is told, with a clear message, when the backend is down, stalls or was restarted
mid-job. Standard library + pyzmq only.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

try:
    import zmq
except ImportError:  # the plugin says so when it connects (BackendUnavailable below)
    zmq = None  # type: ignore[assignment]

from .defaults import JOB_TIMEOUT_S, REQUEST_TIMEOUT_S, STALL_TIMEOUT_S
from .protocol import (
    DEFAULT_ENDPOINT,
    FORMATS,
    MAX_HEADER_BYTES,
    BackendError,
    BackendUnavailable,
    CleanOptions,
    ProtocolError,
    bytes_per_pixel,
    decode_header,
    encode,
    request,
)

# ---------------------------------------------------------------- client


def use_curve_client(sock, server_key: bytes | None, client_keys=None) -> None:
    """Make `sock` a CURVE client of the server with `server_key` (nothing when None).

    client_keys: this client's own (public, secret) pair; without it a fresh pair is made.
    """
    if server_key:
        public, secret = client_keys or zmq.curve_keypair()
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.curve_serverkey = server_key


class Job:
    """One clean request as the client sees it; updated by Client.pump()."""

    def __init__(self, job_id: str, width: int, height: int):
        self.id = job_id
        self.width = width
        self.height = height
        self.stage = "sent"
        self.done = 0
        self.total = 0
        self.result: dict | None = None
        self.pixels: bytes | None = None
        self.svg: str | None = None  # with options.vector: the result traced to SVG
        self.error: BackendError | None = None
        self.cancelled = False
        self.started = time.monotonic()
        self.last_heard = self.started

    @property
    def finished(self) -> bool:
        return self.result is not None or self.error is not None or self.cancelled

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


class Client:
    """Talks to one backend (or broker) over a DEALER socket; never blocks unbounded.

    server_key: the backend's CURVE public key (Z85 text) when it listens beyond loopback.
    client_keys: this client's own (public, secret) CURVE pair, for a backend started with
    --authorized-keys; without it a fresh pair is made per connection.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        server_key: str | bytes | None = None,
        stall_timeout: float = STALL_TIMEOUT_S,
        context: zmq.Context | None = None,
        client_keys: tuple[bytes, bytes] | None = None,
    ):
        if zmq is None:
            raise BackendUnavailable(
                f"pyzmq is not installed for this Python ({sys.version.split()[0]}): "
                "run install.py again"
            )
        self.endpoint = endpoint
        self.server_key = server_key.encode() if isinstance(server_key, str) else server_key
        self.stall_timeout = stall_timeout
        self.client_keys = client_keys  # (public, secret) for backends that admit known keys
        self.jobs: dict[str, Job] = {}
        self.limits: dict | None = None
        self.instance: str | None = None
        self._context = context or zmq.Context.instance()
        self._prefix = f"{os.getpid():x}-{uuid.uuid4().hex[:8]}"
        self._counter = 0
        self._pending: dict[str, dict] = {}
        self._socket = None
        self._open()

    # -- socket lifecycle
    def _open(self) -> None:
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only to live connections: fail fast
        sock.setsockopt(zmq.RECONNECT_IVL, 200)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        use_curve_client(sock, self.server_key, self.client_keys)
        sock.connect(self.endpoint)
        self._socket = sock

    def reset(self) -> None:
        """Drop the socket and everything in flight (after the backend died)."""
        if self._socket is not None:
            self._sock.close(linger=0)
        self._pending.clear()
        self._open()

    def close(self) -> None:
        if self._socket is not None:
            self._sock.close(linger=0)
            self._socket = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def _sock(self):
        if self._socket is None:
            raise BackendUnavailable(f"the connection to {self.endpoint} was closed")
        return self._socket

    @property
    def fd(self) -> int:
        """File descriptor to watch for readability (edge-triggered: then call pump())."""
        return self._sock.getsockopt(zmq.FD)

    # -- sending
    def _new_id(self, op: str) -> str:
        self._counter += 1
        return f"{op}-{self._prefix}-{self._counter}"

    def _send(self, header: dict, payload: bytes | None = None, timeout: float = 2.0) -> None:
        if not self._sock.poll(int(timeout * 1000), zmq.POLLOUT):
            raise BackendUnavailable(
                f"no Sketch Cleanup backend answers at {self.endpoint}; is it running?"
            )
        try:
            self._sock.send_multipart(encode(header, payload), flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            raise BackendUnavailable(f"could not send to the backend at {self.endpoint}") from None

    # -- receiving
    def pump(self, timeout: float = 0.0) -> list[Job]:
        """Read every message waiting (waiting up to `timeout` s for the first one).

        Returns the jobs that changed. Raises BackendUnavailable when a job has heard
        nothing for stall_timeout and a ping gets no answer, or the backend restarted.
        """
        changed: dict[str, Job] = {}
        wait_ms = int(timeout * 1000)
        while self._sock.poll(wait_ms, zmq.POLLIN):
            wait_ms = 0
            frames = self._sock.recv_multipart()
            job = self._dispatch(frames)
            if job is not None:
                changed[job.id] = job
        self._check_stalls()
        return list(changed.values())

    def _dispatch(self, frames: list[bytes]) -> Job | None:
        try:
            header = decode_header(frames[0])
        except ProtocolError:
            return None  # a broken reply is ignored; the job's stall check still guards it
        request_id = header.get("id")
        if not isinstance(request_id, str):
            return None
        if request_id in self._pending:
            self._pending[request_id] = header
            return None
        job = self.jobs.get(request_id)
        if job is None:
            return None
        job.last_heard = time.monotonic()
        kind = header.get("type")
        if kind == "progress":
            job.stage = header.get("stage", job.stage)
            job.done = header.get("done", job.done)
            job.total = header.get("total", job.total)
        elif kind == "accepted":
            job.stage = "queued"
        elif kind == "result":
            job.result = header
            job.pixels = frames[1] if len(frames) > 1 else b""
            job.svg = frames[2].decode("utf-8", "replace") if len(frames) > 2 else None
            job.stage = "done"
        elif kind == "cancelled":
            job.cancelled = True
            job.stage = "cancelled"
        elif kind == "error":
            job.error = BackendError(header.get("code", "internal"), header.get("message", ""))
            job.stage = "error"
        return job

    def _check_stalls(self) -> None:
        now = time.monotonic()
        stalled = [
            j
            for j in self.jobs.values()
            if not j.finished and now - j.last_heard > self.stall_timeout
        ]
        if not stalled:
            return
        instance = self.instance
        try:
            pong = self.request("ping", timeout=REQUEST_TIMEOUT_S)
        except BackendUnavailable as exc:
            lost = BackendUnavailable(f"the backend stopped answering: {exc.message}")
            for job in stalled:
                job.error = lost
            raise lost from None
        if instance is not None and pong.get("instance") != instance:
            lost = BackendUnavailable("the backend restarted and lost this job; run it again")
            for job in stalled:
                job.error = lost
            raise lost
        for job in stalled:  # alive and busy: keep waiting
            job.last_heard = now

    # -- requests
    def request(self, op: str, timeout: float = REQUEST_TIMEOUT_S, **fields) -> dict:
        """Send a small request (info, ping) and wait up to `timeout` s for its answer."""
        request_id = self._new_id(op)
        self._pending[request_id] = {}
        deadline = time.monotonic() + timeout
        try:
            self._send(request(op, request_id, **fields), None, timeout)
            while not self._pending[request_id]:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.reset()  # a late answer must not confuse the next request
                    raise BackendUnavailable(
                        f"the backend at {self.endpoint} did not answer '{op}' within {timeout:g} s"
                    )
                if self._sock.poll(int(left * 1000) + 1, zmq.POLLIN):
                    frames = self._sock.recv_multipart()
                    job = self._dispatch(frames)
                    if job is not None:
                        job.last_heard = time.monotonic()
            answer = self._pending[request_id]
        finally:
            self._pending.pop(request_id, None)
        if answer.get("type") == "error":
            raise BackendError(answer.get("code", "internal"), answer.get("message", ""))
        if "instance" in answer:
            self.instance = answer["instance"]
        return answer

    def info(self, timeout: float = REQUEST_TIMEOUT_S) -> dict:
        answer = self.request("info", timeout=timeout)
        self.limits = answer.get("limits")
        return answer

    def ping(self, timeout: float = REQUEST_TIMEOUT_S) -> dict:
        return self.request("ping", timeout=timeout)

    def check_fits(self, width: int, height: int, fmt: str) -> None:
        """Refuse a layer the backend would refuse (BackendError too_large), before an
        editor reads its pixels; asks the backend for its limits the first time."""
        if self.limits is None:
            self.info()
        limits = self.limits or {}
        size = width * height * bytes_per_pixel(fmt)
        if (
            max(width, height) > limits["max_side"]
            or width * height > limits["max_pixels"]
            or size + MAX_HEADER_BYTES > limits["max_message_bytes"]
        ):
            raise BackendError(
                "too_large",
                f"the layer is {width}x{height}; the backend takes at most "
                f"{limits['max_side']} px a side and {limits['max_pixels']:,} pixels",
            )

    def start_clean(
        self,
        pixels: bytes,
        width: int,
        height: int,
        fmt: str,
        options: CleanOptions | dict | None = None,
        region: tuple[int, int, int, int] | list[int] | None = None,
    ) -> Job:
        """Send a clean job and return at once; follow it with pump() or wait().

        options: CleanOptions, or a raw `options` object that only the backend checks.
        region: [x, y, width, height] of the image to return (the whole image is still
        sent); the backend checks it.
        """
        if fmt not in FORMATS:
            raise BackendError("unsupported_format", f"pixel format {fmt!r} is not supported")
        expected = width * height * bytes_per_pixel(fmt)
        if len(pixels) != expected:
            raise BackendError("bad_size", f"{width}x{height} {fmt} needs {expected} bytes")
        self.check_fits(width, height, fmt)
        if isinstance(options, CleanOptions):
            options = options.to_wire()
        job = Job(self._new_id("clean"), width, height)
        header = request(
            "clean", job.id, width=width, height=height, format=fmt, options=options or {}
        )
        if region is not None:
            header["region"] = list(region)
        self._send(header, pixels)
        self.jobs[job.id] = job
        return job

    def cancel(self, job: Job) -> None:
        if not job.finished:
            self._send(request("cancel", self._new_id("cancel"), target=job.id))

    def wait(
        self, job: Job, timeout: float = JOB_TIMEOUT_S, on_progress=None
    ) -> tuple[dict, bytes]:
        """Block (in slices of 0.1 s) until the job ends; return (result header, pixels).

        on_progress(job) is called on every progress message; return False from it to cancel.
        """
        deadline = time.monotonic() + timeout
        try:
            while not job.finished:
                if time.monotonic() > deadline:
                    self.cancel(job)
                    raise BackendError("timeout", f"the backend took longer than {timeout:g} s")
                for changed in self.pump(0.1):
                    if changed is job and on_progress is not None and on_progress(job) is False:
                        self.cancel(job)
        finally:
            if job.finished:
                self.jobs.pop(job.id, None)
        if job.error is not None:
            raise job.error
        if job.cancelled:
            raise BackendError("cancelled", "the job was cancelled")
        assert job.result is not None
        return job.result, job.pixels or b""

    def clean(
        self,
        pixels: bytes,
        width: int,
        height: int,
        fmt: str,
        options: CleanOptions | dict | None = None,
        timeout: float = JOB_TIMEOUT_S,
        on_progress=None,
        region: tuple[int, int, int, int] | list[int] | None = None,
    ) -> tuple[dict, bytes]:
        """Clean one image and wait for it: (result header, pixels in output_format; only
        the region's when a region is given)."""
        job = self.start_clean(pixels, width, height, fmt, options, region)
        return self.wait(job, timeout, on_progress)
