"""The GIMP plug-in's parts that need no GIMP: options, pixel formats, reaching the backend.

Standard library + sketch_client (+ pyzmq) only, so the tests can drive it outside GIMP.
GIMP's own calls live in sketch-cleanup.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import sketch_client

PROCEDURE = "plug-in-sketch-cleanup"
LAYER_NAME = "Clean Sketch"
CONNECT_TIMEOUT = 3.0  # s for the first `info`
START_TIMEOUT = 180.0  # s for a backend we started to load its model and answer
JOB_TIMEOUT = 900.0  # s for one clean job, progress messages or not
STALL_TIMEOUT = 20.0  # s without any message before the client pings the backend

STYLES = sketch_client.STYLES  # transparent, white, soft
THRESHOLDS = (*sketch_client.THRESHOLDS, "fixed")  # otsu, mean, none, fixed
SCALE_MODES = ("auto", "custom")
LINE_WEIGHTS = ("model", "auto", "custom")  # custom: a width in px

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class PluginError(Exception):
    """Something the artist must be told; nothing in the image was changed."""


# ---------------------------------------------------------------- pixel formats


def formats_for_precision(precision_nick: str) -> tuple[str, str]:
    """(babl format, protocol format) that keeps an image precision's depth.

    GIMP converts any drawable (gray, indexed, any precision) to the babl format asked
    for, so 8-bit images travel as R'G'B'A u8 (rgba8), 16-bit ones as R'G'B'A u16
    (rgba16), and 32-bit integer, half, float and double ones as linear RGBA float
    (rgbaf32). Both sides keep the same meaning: 8/16-bit sRGB-encoded, float linear.
    """
    if precision_nick.startswith("u8"):
        return "R'G'B'A u8", "rgba8"
    if precision_nick.startswith("u16"):
        return "R'G'B'A u16", "rgba16"
    return "RGBA float", "rgbaf32"


def is_all_transparent(alpha: bytes) -> bool:
    """True when an `A u8` buffer has no visible pixel."""
    return not alpha.strip(b"\x00")


# ---------------------------------------------------------------- options


def protocol_options(
    style: str,
    color_hex: str,
    threshold: str,
    threshold_level: float,
    scale_mode: str,
    scale_factor: float,
    line_weight: str,
    line_width: float,
) -> dict:
    """The `clean` options (docs/protocol.md) for the plug-in's arguments."""
    if style not in STYLES:
        raise PluginError(f"Unknown output style {style!r}; expected one of {STYLES}.")
    if threshold not in THRESHOLDS:
        raise PluginError(f"Unknown threshold {threshold!r}; expected one of {THRESHOLDS}.")
    if scale_mode not in SCALE_MODES:
        raise PluginError(f"Unknown detail mode {scale_mode!r}; expected one of {SCALE_MODES}.")
    if line_weight not in LINE_WEIGHTS:
        raise PluginError(f"Unknown line weight {line_weight!r}; expected one of {LINE_WEIGHTS}.")
    options = {"style": style, "color": color_hex.lower()}
    if threshold == "fixed":
        if not 0.0 < threshold_level < 1.0:
            raise PluginError(
                f"The threshold level must be between 0 and 1, not {threshold_level}."
            )
        options["threshold"] = round(float(threshold_level), 4)
    else:
        options["threshold"] = threshold
    if scale_mode == "auto":
        options["scale"] = "auto"
    else:
        low, high = sketch_client.SCALE_RANGE
        if not low <= scale_factor <= high:
            raise PluginError(f"The detail factor must be between {low} and {high}.")
        options["scale"] = round(float(scale_factor), 4)
    if line_weight != "custom":
        options["line_width"] = line_weight
    else:
        low, high = sketch_client.LINE_WIDTH_RANGE
        if not low <= line_width <= high:
            raise PluginError(f"The line width must be between {low:g} and {high:g} px.")
        options["line_width"] = round(float(line_width), 2)
    return options


# ---------------------------------------------------------------- the backend


def is_loopback(endpoint: str) -> bool:
    scheme = endpoint.split("://", 1)[0]
    if scheme == "ipc":
        return True
    host = urlsplit(endpoint).hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def load_server_key(path: str) -> str | None:
    """The backend's CURVE public key from `server.key` (`python -m backend keys`), or a
    file holding just the 40-character Z85 key. Empty path: no CURVE."""
    if not path:
        return None
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise PluginError(f"Cannot read the server key file {path}: {exc.strerror}.") from None
    lines = [line.strip() for line in text.splitlines()]
    if any(line.startswith("secret-key") for line in lines):
        raise PluginError(
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
        raise PluginError(
            f"{path} holds no CURVE public key: pass the server.key file that "
            "`python -m backend keys` wrote (not the .key_secret one)."
        )
    return key


def resolve_endpoint(server: str) -> tuple[str, dict | None]:
    """(endpoint to use, backend.json config if this plug-in may start that backend).

    An empty server means the local backend install.py set up (or the default address).
    Only a loopback endpoint that is the installed backend's own is ever started.
    """
    config = sketch_client.backend_config()
    server = (server or "").strip()
    installed = (config or {}).get("endpoint") or sketch_client.DEFAULT_ENDPOINT
    endpoint = server or installed
    if "://" not in endpoint:
        raise PluginError(
            f"The server address {endpoint!r} is not a ZeroMQ endpoint like tcp://127.0.0.1:5571."
        )
    startable = config if config and endpoint == installed and is_loopback(endpoint) else None
    return endpoint, startable


def start_backend(config: dict, endpoint: str) -> tuple[subprocess.Popen, Path]:
    """Start the installed backend detached from this short-lived plug-in process.

    It keeps running after GIMP closes (the backend has no idle timeout): the next
    Clean Sketch starts at once. Stop it with your system's tools or restart the machine.
    """
    command = [str(part) for part in config.get("command") or []]
    if not command:
        raise PluginError(f"{sketch_client.data_dir() / 'backend.json'} has no command.")
    home = sketch_client.data_dir()
    log_path = home / "backend.log"
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME"):  # GIMP's Python must not leak into the venv's
        env.pop(name, None)
    env.update({str(k): str(v) for k, v in (config.get("env") or {}).items()})
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    kwargs: dict = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = (
            subprocess.DETACHED_PROCESS
            | subprocess.CREATE_NEW_PROCESS_GROUP
            | subprocess.CREATE_NO_WINDOW
        )
    else:
        kwargs["start_new_session"] = True  # GIMP kills a cancelled plug-in's group
    try:
        home.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(f"\n--- started by the GIMP plug-in {time.ctime()}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [*command, "--bind", endpoint],
                env=env,
                cwd=str(home),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
                **kwargs,
            )
    except OSError as exc:
        raise PluginError(
            f"Could not start the Sketch Cleanup backend ({command[0]}): {exc}. "
            "Run install.py again."
        ) from None
    return proc, log_path


def _log_tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def connect(
    server: str = "",
    key_file: str = "",
    on_status=None,
    start_timeout: float = START_TIMEOUT,
) -> sketch_client.Client:
    """A client that has had an `info` answer; starts the installed backend when needed
    (then `client.backend_process` is that process, else None).

    on_status(text) is called while waiting for a backend to start (about once a second),
    so the caller can keep a progress bar moving.
    """
    endpoint, startable = resolve_endpoint(server)
    key = load_server_key(key_file)
    try:
        client = sketch_client.Client(endpoint, server_key=key, stall_timeout=STALL_TIMEOUT)
    except sketch_client.BackendError as exc:  # no pyzmq for this Python
        raise PluginError(exc.message) from None
    client.backend_process = None  # the backend this call started, if it did
    if _answers(client, endpoint, CONNECT_TIMEOUT):
        return client
    if startable is None:
        client.close()
        raise PluginError(_unreachable_message(endpoint, key))

    if on_status:
        on_status("Starting the Sketch Cleanup backend (first use loads the model)…")
    proc, log_path = start_backend(startable, endpoint)
    client.backend_process = proc
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if _answers(client, endpoint, 1.0):
            return client
        code = proc.poll()
        if client.backend_process is not None and code is not None:
            if code != sketch_client.EXIT_ADDRESS_IN_USE:
                client.close()
                raise PluginError(
                    f"The Sketch Cleanup backend stopped while starting (exit code {code}). "
                    f"Last lines of {log_path}:\n{_log_tail(log_path)}"
                )
            # another editor's backend took the address first: wait for that one instead
            client.backend_process = None
            if on_status:
                on_status("Waiting for the Sketch Cleanup backend another program started…")
        if on_status:
            on_status(None)
        time.sleep(0.5)
    client.close()
    if client.backend_process is None:
        raise PluginError(
            f"Another program holds {endpoint}, but no Sketch Cleanup backend answered there "
            f"within {start_timeout:g} s. Close that program or change the server address."
        )
    raise PluginError(
        f"The Sketch Cleanup backend was started but did not answer within "
        f"{start_timeout:g} s; it may still be loading. Try again in a minute, or see "
        f"{log_path}."
    )


def _answers(client: sketch_client.Client, endpoint: str, timeout: float) -> bool:
    """Whether a backend answers `info` now; a backend that refuses us is an error."""
    try:
        client.info(timeout=timeout)
        return True
    except sketch_client.BackendUnavailable:
        return False
    except sketch_client.BackendError as exc:
        client.close()
        raise PluginError(f"The backend at {endpoint} refused: {exc.message}") from None


def _unreachable_message(endpoint: str, key: str | None) -> str:
    if key:
        hint = (
            "Check that the backend runs there and that the server key file is that "
            "backend's server.key: a wrong key looks exactly like a backend that is down."
        )
    elif not is_loopback(endpoint):
        hint = (
            "Check the address and that the backend runs there; a backend beyond this "
            "machine needs its server.key file."
        )
    elif os.path.exists("/.flatpak-info"):  # the sandbox cannot see or start the backend
        hint = (
            "GIMP runs as a Flatpak here and cannot start the backend itself: start it "
            "outside GIMP with `~/.local/share/sketch-cleanup/bin/sketch-cleanup serve`."
        )
    elif sketch_client.backend_config() is None:
        hint = (
            "No local backend is installed to start: run `python3 install.py`, or start "
            "one with `python -m backend serve`."
        )
    else:
        hint = (
            "Start it with `sketch-cleanup serve`, or clear the server address to use "
            "the installed local backend."
        )
    return f"No Sketch Cleanup backend answers at {endpoint}. {hint}"


def check_limits(client: sketch_client.Client, width: int, height: int, fmt: str) -> None:
    """Refuse a layer the backend would refuse, before its pixels are read."""
    limits = client.limits or {}
    size = width * height * sketch_client.bytes_per_pixel(fmt)
    if (
        max(width, height) > limits.get("max_side", float("inf"))
        or width * height > limits.get("max_pixels", float("inf"))
        or size + sketch_client.MAX_HEADER_BYTES > limits.get("max_message_bytes", float("inf"))
    ):
        raise PluginError(
            f"The layer is too large for the backend: it is {width}x{height} px; the backend "
            f"takes at most {limits.get('max_side')} px a side and "
            f"{limits.get('max_pixels', 0):,} pixels. Select a part of it, or scale it down."
        )


def clean(
    client: sketch_client.Client,
    pixels: bytes,
    width: int,
    height: int,
    fmt: str,
    options: dict,
    on_progress=None,
    timeout: float = JOB_TIMEOUT,
) -> bytes:
    """Run one job to its end; return the result pixels (same size and format)."""
    try:
        job = client.start_clean(pixels, width, height, fmt, {**options, "output_format": fmt})
        if on_progress:
            on_progress("queued", 0.0)

        def progress(job):
            if on_progress:
                on_progress(job.stage, job.fraction)
            return True

        header, result = client.wait(job, timeout=timeout, on_progress=progress)
    except sketch_client.BackendUnavailable as exc:
        raise PluginError(f"The Sketch Cleanup backend stopped answering: {exc.message}") from None
    except sketch_client.BackendError as exc:
        raise PluginError(_error_message(exc)) from None
    expected = width * height * sketch_client.bytes_per_pixel(fmt)
    if (header.get("width"), header.get("height")) != (width, height) or len(result) != expected:
        raise PluginError(
            f"The backend answered with a {header.get('width')}x{header.get('height')} "
            f"{header.get('format')} result for a {width}x{height} {fmt} layer."
        )
    return result


def _error_message(exc: sketch_client.BackendError) -> str:
    messages = {
        "empty_image": "The layer has no visible pixel: there is nothing to clean.",
        "too_large": f"The layer is too large for the backend: {exc.message}",
        "busy": "The backend is busy with other jobs; try again in a moment.",
        "timeout": f"The backend took too long: {exc.message}",
    }
    return messages.get(
        exc.code, f"The backend could not clean the sketch: {exc.message} [{exc.code}]"
    )
