"""Sketch Cleanup wire protocol and client: standard library + pyzmq only.

This one module is shared by the backend, the command line and both editor plugins
(install.py copies it into each plugin), so the protocol lives here and in
docs/protocol.md and nowhere else. Editors' Pythons may lack numpy: none is used.

Nothing here blocks without a timeout: an editor calls `Client.pump()` from its event loop
(or `Client.wait()` with a deadline) and is told, with a clear message, when the backend is
down, stalls or was restarted mid-job.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

try:
    import zmq
except ImportError:  # install.py reads the paths below before pyzmq is installed
    zmq = None

PROTOCOL_VERSION = 1
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5571"
DEFAULT_WORKER_ENDPOINT = "tcp://127.0.0.1:5572"
# `serve`/`broker` exit with this when their address is taken, usually by another backend
# that an editor started a moment earlier: a plugin that launched one then waits for that one.
EXIT_ADDRESS_IN_USE = 98
MAX_ID_LENGTH = 64
MAX_HEADER_BYTES = 64 * 1024

# format name -> (channel order, bytes per channel, sample kind: u = unsigned int, f = float)
FORMATS = {
    "rgba8": ("RGBA", 1, "u"),
    "bgra8": ("BGRA", 1, "u"),
    "gray8": ("Y", 1, "u"),
    "graya8": ("YA", 1, "u"),
    "rgba16": ("RGBA", 2, "u"),
    "bgra16": ("BGRA", 2, "u"),
    "graya16": ("YA", 2, "u"),
    "rgbaf16": ("RGBA", 2, "f"),
    "rgbaf32": ("RGBA", 4, "f"),
    "grayaf32": ("YA", 4, "f"),
}

STYLES = ("transparent", "white", "soft")
THRESHOLDS = ("otsu", "mean", "none")
DEFAULT_OPTIONS = {
    "style": "transparent",
    "color": "#000000",
    "threshold": "otsu",
    "scale": "auto",
    # "model" until `auto` passes tests/test_shipped_model.py (see docs/protocol.md)
    "line_width": "model",
}
OPTION_NAMES = (*DEFAULT_OPTIONS, "output_format")
SCALE_RANGE = (0.1, 4.0)
LINE_WIDTHS = ("auto", "model")  # or a width in canvas px within LINE_WIDTH_RANGE
LINE_WIDTH_RANGE = (0.5, 32.0)
# exactly '#' and six ASCII hex digits: int(x, 16) alone lets '_', '0x', signs, spaces and
# other scripts' digits through
COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")

REQUEST_OPS = ("info", "ping", "clean", "cancel")
FINAL_TYPES = ("result", "cancelled", "error")

ERROR_CODES = (
    "bad_message",
    "bad_version",
    "unknown_op",
    "bad_request",
    "unsupported_format",
    "bad_size",
    "empty_image",
    "too_large",
    "busy",
    "duplicate_id",
    "internal",
)


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
    """How to start the local backend ({"command": [...], "endpoint": ...}), if installed."""
    path = data_dir() / "backend.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class ProtocolError(ValueError):
    """A message that breaks the protocol; `code` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = ""  # the request's id, where it could be read, for the error reply


class BackendError(RuntimeError):
    """The backend answered a job with an error, or could not be reached."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{message} [{code}]")
        self.code = code
        self.message = message


class BackendUnavailable(BackendError):
    """No backend answers, it stopped answering, or it restarted and lost the job."""

    def __init__(self, message: str):
        super().__init__("unavailable", message)


# ---------------------------------------------------------------- message encoding


def bytes_per_pixel(fmt: str) -> int:
    channels, size, _ = FORMATS[fmt]
    return len(channels) * size


def encode(header: dict, payload: bytes | None = None) -> list[bytes]:
    """Frames of one message: the JSON header, then the pixels if there are any."""
    frames = [json.dumps(header, separators=(",", ":")).encode("utf-8")]
    if payload is not None:
        frames.append(payload)
    return frames


def decode_header(frame: bytes) -> dict:
    if len(frame) > MAX_HEADER_BYTES:
        raise ProtocolError("bad_message", f"header is larger than {MAX_HEADER_BYTES} bytes")
    try:
        header = json.loads(frame.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError("bad_message", f"header is not UTF-8 JSON: {exc}") from None
    except RecursionError:  # [[[…]]] thousands deep: refused, not a crash
        raise ProtocolError("bad_message", "header is nested too deeply") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_message", "header must be a JSON object")
    return header


def check_request(header: dict) -> None:
    """Validate the envelope shared by every request (v, op, id)."""
    request_id = header.get("id")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_ID_LENGTH:
        raise ProtocolError("bad_message", f"'id' must be a string of 1-{MAX_ID_LENGTH} chars")
    version = header.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError("bad_message", "'v' (protocol version) must be an integer")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            "bad_version", f"protocol version {version} is not supported (speaks 1)"
        )
    if header.get("op") not in REQUEST_OPS:
        raise ProtocolError(
            "unknown_op", f"unknown op {header.get('op')!r}; expected one of {REQUEST_OPS}"
        )


def parse_request(frames: list[bytes]) -> dict:
    """The checked header of a request's frames (header, then pixels or nothing)."""
    request_id = ""
    try:
        header = decode_header(frames[0]) if frames else None
        if isinstance(header, dict) and isinstance(header.get("id"), str):
            request_id = header["id"][:MAX_ID_LENGTH]
        if not 1 <= len(frames) <= 2:
            raise ProtocolError("bad_message", f"expected 1-2 frames, got {len(frames)}")
        check_request(header)
        return header
    except ProtocolError as exc:
        exc.request_id = request_id
        raise


def _positive_int(header: dict, name: str) -> int:
    value = header.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError("bad_request", f"'{name}' must be a non-negative integer")
    return value


def check_clean(header: dict, payload_size: int | None, limits: dict) -> dict:
    """Validate a clean request before any pixel buffer is touched; return full options.

    `limits` has max_side and max_pixels. Sizes are checked from the header alone, so a
    gigantic claim is refused before anything is allocated.
    """
    width = _positive_int(header, "width")
    height = _positive_int(header, "height")
    if width == 0 or height == 0:
        raise ProtocolError("empty_image", f"image is {width}x{height}: nothing to clean")
    if max(width, height) > limits["max_side"] or width * height > limits["max_pixels"]:
        raise ProtocolError(
            "too_large",
            f"image is {width}x{height}; the limit is {limits['max_side']} px a side and "
            f"{limits['max_pixels']} pixels",
        )
    fmt = header.get("format")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ProtocolError(
            "unsupported_format", f"pixel format {fmt!r} is not one of {sorted(FORMATS)}"
        )
    expected = width * height * bytes_per_pixel(fmt)
    if payload_size is None:
        raise ProtocolError("bad_size", "clean needs a second frame with the pixels")
    if payload_size != expected:
        raise ProtocolError(
            "bad_size",
            f"{width}x{height} {fmt} needs {expected} bytes of pixels, got {payload_size}",
        )
    options = header.get("options")
    return check_options({} if options is None else options, fmt)


def check_options(options: dict, input_format: str) -> dict:
    if not isinstance(options, dict):
        raise ProtocolError("bad_request", "'options' must be an object")
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ProtocolError(
            "bad_request", f"unknown option(s) {unknown}; known: {list(OPTION_NAMES)}"
        )
    merged = {**DEFAULT_OPTIONS, "output_format": input_format, **options}
    if merged["style"] not in STYLES:
        raise ProtocolError("bad_request", f"style must be one of {STYLES}")
    color = merged["color"]
    if not (isinstance(color, str) and COLOR_PATTERN.fullmatch(color)):
        raise ProtocolError("bad_request", "color must look like #rrggbb (six hex digits)")
    threshold = merged["threshold"]
    if isinstance(threshold, bool) or not (
        threshold in THRESHOLDS or (isinstance(threshold, (int, float)) and 0 < threshold < 1)
    ):
        raise ProtocolError(
            "bad_request", f"threshold must be one of {THRESHOLDS} or a number in (0, 1)"
        )
    scale = merged["scale"]
    low, high = SCALE_RANGE
    if isinstance(scale, bool) or not (
        scale == "auto" or (isinstance(scale, (int, float)) and low <= scale <= high)
    ):
        raise ProtocolError("bad_request", f"scale must be 'auto' or a number in [{low}, {high}]")
    line_width = merged["line_width"]
    low, high = LINE_WIDTH_RANGE
    if isinstance(line_width, bool) or not (
        line_width in LINE_WIDTHS
        or (isinstance(line_width, (int, float)) and low <= line_width <= high)
    ):
        raise ProtocolError(
            "bad_request", f"line_width must be one of {LINE_WIDTHS} or a number in [{low}, {high}]"
        )
    output_format = merged["output_format"]
    if not isinstance(output_format, str) or output_format not in FORMATS:
        raise ProtocolError(
            "unsupported_format",
            f"output_format {merged['output_format']!r} is not one of {sorted(FORMATS)}",
        )
    return merged


def check_cancel(header: dict) -> str:
    """The id of the job a cancel request names."""
    target = header.get("target")
    if not isinstance(target, str) or not 0 < len(target) <= MAX_ID_LENGTH:
        raise ProtocolError(
            "bad_request", f"cancel needs 'target': the id of a clean job (1-{MAX_ID_LENGTH} chars)"
        )
    return target


def reply(request_id: str, kind: str, **fields) -> dict:
    return {"v": PROTOCOL_VERSION, "id": request_id, "type": kind, **fields}


def error_reply(request_id: str, code: str, message: str) -> dict:
    return reply(request_id, "error", code=code, message=message)


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
        stall_timeout: float = 20.0,
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
            self._socket.close(linger=0)
        self._pending.clear()
        self._open()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def fd(self) -> int:
        """File descriptor to watch for readability (edge-triggered: then call pump())."""
        return self._socket.getsockopt(zmq.FD)

    # -- sending
    def _new_id(self, op: str) -> str:
        self._counter += 1
        return f"{op}-{self._prefix}-{self._counter}"

    def _send(self, header: dict, payload: bytes | None = None, timeout: float = 2.0) -> None:
        if not self._socket.poll(int(timeout * 1000), zmq.POLLOUT):
            raise BackendUnavailable(
                f"no Sketch Cleanup backend answers at {self.endpoint}; is it running?"
            )
        try:
            self._socket.send_multipart(encode(header, payload), flags=zmq.NOBLOCK, copy=False)
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
        while self._socket.poll(wait_ms, zmq.POLLIN):
            wait_ms = 0
            frames = self._socket.recv_multipart()
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
            pong = self.request("ping", timeout=3.0)
        except BackendUnavailable as exc:
            for job in stalled:
                job.error = BackendUnavailable(f"the backend stopped answering: {exc.message}")
            raise stalled[0].error from None
        if instance is not None and pong.get("instance") != instance:
            for job in stalled:
                job.error = BackendUnavailable(
                    "the backend restarted and lost this job; run it again"
                )
            raise stalled[0].error
        for job in stalled:  # alive and busy: keep waiting
            job.last_heard = now

    # -- requests
    def request(self, op: str, timeout: float = 3.0, **fields) -> dict:
        """Send a small request (info, ping) and wait up to `timeout` s for its answer."""
        request_id = self._new_id(op)
        self._pending[request_id] = {}
        deadline = time.monotonic() + timeout
        try:
            self._send({"v": PROTOCOL_VERSION, "op": op, "id": request_id, **fields}, None, timeout)
            while not self._pending[request_id]:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.reset()  # a late answer must not confuse the next request
                    raise BackendUnavailable(
                        f"the backend at {self.endpoint} did not answer '{op}' within {timeout:g} s"
                    )
                if self._socket.poll(int(left * 1000) + 1, zmq.POLLIN):
                    frames = self._socket.recv_multipart()
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

    def info(self, timeout: float = 3.0) -> dict:
        answer = self.request("info", timeout=timeout)
        self.limits = answer.get("limits")
        return answer

    def ping(self, timeout: float = 3.0) -> dict:
        return self.request("ping", timeout=timeout)

    def start_clean(
        self, pixels: bytes, width: int, height: int, fmt: str, options: dict | None = None
    ) -> Job:
        """Send a clean job and return at once; follow it with pump() or wait()."""
        if fmt not in FORMATS:
            raise BackendError("unsupported_format", f"pixel format {fmt!r} is not supported")
        expected = width * height * bytes_per_pixel(fmt)
        if len(pixels) != expected:
            raise BackendError("bad_size", f"{width}x{height} {fmt} needs {expected} bytes")
        if self.limits is None:
            self.info()
        limits = self.limits
        if (
            max(width, height) > limits["max_side"]
            or width * height > limits["max_pixels"]
            or expected + MAX_HEADER_BYTES > limits["max_message_bytes"]
        ):
            raise BackendError(
                "too_large",
                f"the layer is {width}x{height}; the backend takes at most "
                f"{limits['max_side']} px a side and {limits['max_pixels']:,} pixels",
            )
        job = Job(self._new_id("clean"), width, height)
        header = {
            "v": PROTOCOL_VERSION,
            "op": "clean",
            "id": job.id,
            "width": width,
            "height": height,
            "format": fmt,
            "options": options or {},
        }
        self._send(header, pixels)
        self.jobs[job.id] = job
        return job

    def cancel(self, job: Job) -> None:
        if not job.finished:
            self._send(
                {
                    "v": PROTOCOL_VERSION,
                    "op": "cancel",
                    "id": self._new_id("cancel"),
                    "target": job.id,
                }
            )

    def wait(self, job: Job, timeout: float = 600.0, on_progress=None) -> tuple[dict, bytes]:
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
        return job.result, job.pixels

    def clean(
        self,
        pixels: bytes,
        width: int,
        height: int,
        fmt: str,
        options: dict | None = None,
        timeout: float = 600.0,
        on_progress=None,
    ) -> tuple[dict, bytes]:
        """Clean one image and wait for it: (result header, pixels in output_format)."""
        job = self.start_clean(pixels, width, height, fmt, options)
        return self.wait(job, timeout, on_progress)
