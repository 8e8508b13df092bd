"""Sketch Cleanup wire protocol: the one source of formats, errors and clean options.

This module and docs/protocol.md say what travels between an editor and the backend. The
backend, the command line and both plugins import it; it needs nothing beyond the
standard library, so it runs in editors' Pythons too.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from dataclasses import dataclass

VERSION = "0.1.0"  # the release: backend, plugins and pyproject.toml read it from here
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
THRESHOLDS = ("otsu", "mean", "none")  # or a level in THRESHOLD_RANGE (exclusive)
THRESHOLD_RANGE = (0.0, 1.0)
SCALE_RANGE = (0.1, 4.0)  # or "auto"
LINE_WIDTHS = ("auto", "model")  # or a width in canvas px within LINE_WIDTH_RANGE
LINE_WIDTH_RANGE = (0.5, 32.0)
VECTOR_MODES = ("centreline", "outline")  # SVG strokes along the lines, or filled outlines
# exactly '#' and six ASCII hex digits: int(x, 16) alone lets '_', '0x', signs, spaces and
# other scripts' digits through
COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
# a model's name is its file's stem in the backend's models folder: a word character first,
# then word characters, spaces and . + ( ) -; never a path (no separators)
MODEL_NAME_PATTERN = re.compile(r"\w[\w .+()-]{0,63}")
# options added after the first backends, which refuse unknown names: to_wire leaves them
# out while they hold these defaults, so a request that does not use them still goes there
LATER_OPTIONS = {"vector": None, "model": None, "flatten": False}

REQUEST_OPS = ("info", "ping", "clean", "cancel")
FINAL_TYPES = ("result", "cancelled", "error")

# every `code` an error reply may carry (docs/protocol.md, "Error codes")
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
LOOPBACK_NAMES = {"localhost"}


class ProtocolError(ValueError):
    """A message that breaks the protocol; `code` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str):
        if code not in ERROR_CODES:
            raise ValueError(f"{code!r} is not a protocol error code")
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


# ---------------------------------------------------------------- clean options


def _within(value, low: float, high: float, inclusive: bool = True) -> bool:
    """Whether `value` is a number (not a bool) within [low, high] (or (low, high))."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return low <= value <= high if inclusive else low < value < high


@dataclass(frozen=True)
class CleanOptions:
    """The `options` of a clean request, checked once when made (ProtocolError if invalid).

    threshold: a name in THRESHOLDS or a level in (0, 1); scale: "auto" or a factor in
    SCALE_RANGE; line_width: a name in LINE_WIDTHS or px in LINE_WIDTH_RANGE;
    output_format: None means "the input's format"; model: a name `info.models` lists, None
    means the backend's default; flatten: divide out uneven light before the network.
    """

    style: str = "transparent"
    color: str = "#000000"
    threshold: str | float = "otsu"
    scale: str | float = "auto"
    # "model" until `auto` passes tests/test_shipped_model.py (see docs/protocol.md)
    line_width: str | float = "model"
    output_format: str | None = None
    vector: str | None = None  # also trace the result to SVG (a third result frame)
    model: str | None = None
    flatten: bool = False

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ProtocolError("bad_request", f"style must be one of {STYLES}")
        if not (isinstance(self.color, str) and COLOR_PATTERN.fullmatch(self.color)):
            raise ProtocolError("bad_request", "color must look like #rrggbb (six hex digits)")
        threshold = self.threshold
        if not (threshold in THRESHOLDS or _within(threshold, *THRESHOLD_RANGE, inclusive=False)):
            raise ProtocolError(
                "bad_request", f"threshold must be one of {THRESHOLDS} or a number in (0, 1)"
            )
        low, high = SCALE_RANGE
        if not (self.scale == "auto" or _within(self.scale, low, high)):
            raise ProtocolError(
                "bad_request", f"scale must be 'auto' or a number in [{low:g}, {high:g}]"
            )
        low, high = LINE_WIDTH_RANGE
        if not (self.line_width in LINE_WIDTHS or _within(self.line_width, low, high)):
            raise ProtocolError(
                "bad_request",
                f"line_width must be one of {LINE_WIDTHS} or a number in [{low:g}, {high:g}]",
            )
        if self.vector is not None and self.vector not in VECTOR_MODES:
            raise ProtocolError("bad_request", f"vector must be one of {VECTOR_MODES} or null")
        fmt = self.output_format
        if fmt is not None and not (isinstance(fmt, str) and fmt in FORMATS):
            raise ProtocolError(
                "unsupported_format", f"output_format {fmt!r} is not one of {sorted(FORMATS)}"
            )
        model = self.model
        if model is not None and not (
            isinstance(model, str) and MODEL_NAME_PATTERN.fullmatch(model)
        ):
            raise ProtocolError(
                "bad_request",
                "model must be the name of a model `info` lists (up to 64 letters, digits, "
                "spaces and . _ + ( ) -), or null for the backend's default",
            )
        if not isinstance(self.flatten, bool):
            raise ProtocolError("bad_request", "flatten must be true or false")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_wire(cls, options, input_format: str | None = None) -> CleanOptions:
        """Options as a request carries them; output_format defaults to input_format."""
        if not isinstance(options, dict):
            raise ProtocolError("bad_request", "'options' must be an object")
        unknown = sorted(set(options) - set(cls.names()))
        if unknown:
            raise ProtocolError(
                "bad_request", f"unknown option(s) {unknown}; known: {list(cls.names())}"
            )
        if options.get("output_format") is None and input_format is not None:
            options = {**options, "output_format": input_format}
        try:
            return cls(**options)
        except TypeError as exc:  # e.g. an unhashable value compared against a tuple
            raise ProtocolError("bad_request", f"invalid options: {exc}") from None

    def to_wire(self) -> dict:
        """The request's `options` object; output_format is left out when it is the input's,
        and LATER_OPTIONS at their defaults."""
        wire = dataclasses.asdict(self)
        if wire["output_format"] is None:
            del wire["output_format"]
        for name, default in LATER_OPTIONS.items():
            if wire[name] is default:
                del wire[name]
        return wire

    def replace(self, **changes) -> CleanOptions:
        return dataclasses.replace(self, **changes)


DEFAULT_OPTIONS = CleanOptions().to_wire()  # what `info` reports as `defaults`


# ---------------------------------------------------------------- endpoints


def bind_host(endpoint: str) -> str | None:
    """The interface libzmq binds for a tcp:// endpoint, or None when it is not plain.

    Read the way libzmq reads it, not with urlsplit: `tcp://0.0.0.0:1@127.0.0.1` binds
    0.0.0.0 while urlsplit says 127.0.0.1. Anything with a source part (`@`, `;`) or
    userinfo is not plain.
    """
    rest = endpoint.split("://", 1)[1] if "://" in endpoint else ""
    if not rest or any(c in rest for c in "@;/?# \t"):
        return None
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def is_local(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback address (as libzmq binds it).

    Local endpoints need no CURVE keys, and only a local backend is started by an editor.
    """
    scheme = endpoint.split("://", 1)[0]
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = bind_host(endpoint)
    if host is None:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # an interface name or a host name: not provably loopback
        return False


# ---------------------------------------------------------------- messages


def bytes_per_pixel(fmt: str) -> int:
    channels, size, _ = FORMATS[fmt]
    return len(channels) * size


def encode(header: dict, *payloads: bytes | None) -> list[bytes]:
    """Frames of one message: the JSON header, then its payloads (pixels, SVG) if any."""
    frames = [json.dumps(header, separators=(",", ":")).encode("utf-8")]
    frames.extend(p for p in payloads if p is not None)
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


def request(op: str, request_id: str, **fields) -> dict:
    return {"v": PROTOCOL_VERSION, "op": op, "id": request_id, **fields}


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
        assert header is not None  # decode_header raised otherwise
        check_request(header)
        return header
    except ProtocolError as exc:
        exc.request_id = request_id
        raise


def _non_negative_int(header: dict, name: str) -> int:
    value = header.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError("bad_request", f"'{name}' must be a non-negative integer")
    return value


def check_size(width: int, height: int, limits: dict) -> None:
    """Refuse an image past `limits` (max_side, max_pixels) before anything is allocated."""
    if width == 0 or height == 0:
        raise ProtocolError("empty_image", f"image is {width}x{height}: nothing to clean")
    if max(width, height) > limits["max_side"] or width * height > limits["max_pixels"]:
        raise ProtocolError(
            "too_large",
            f"image is {width}x{height}; the limit is {limits['max_side']} px a side and "
            f"{limits['max_pixels']:,} pixels",
        )


def check_region(header: dict, width: int, height: int) -> tuple[int, int, int, int] | None:
    """A clean request's `region` [x, y, width, height] within its width x height image, or
    None when it asks for the whole image."""
    region = header.get("region")
    if region is None:
        return None
    if not (
        isinstance(region, list)
        and len(region) == 4
        and all(isinstance(v, int) and not isinstance(v, bool) for v in region)
    ):
        raise ProtocolError("bad_request", "'region' must be [x, y, width, height]: four integers")
    x, y, w, h = region
    if w < 1 or h < 1:
        raise ProtocolError("bad_request", f"region {region} is empty")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise ProtocolError(
            "bad_request", f"region {region} is not within the {width}x{height} image"
        )
    return x, y, w, h


def check_clean(header: dict, payload_size: int | None, limits: dict) -> CleanOptions:
    """Validate a clean request before any pixel buffer is touched; return its options
    (its region is checked too: check_region reads it).

    Sizes are checked from the header alone, so a gigantic claim is refused before
    anything is allocated.
    """
    width = _non_negative_int(header, "width")
    height = _non_negative_int(header, "height")
    check_size(width, height, limits)
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
    checked = CleanOptions.from_wire({} if options is None else options, fmt)
    check_region(header, width, height)
    return checked


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
