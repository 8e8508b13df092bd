"""The text behind "Copy diagnostics": what a bug report needs, gathered in one place.

Versions (kit, editor, Python, pyzmq/libzmq), the backend's address and how it was chosen,
what the backend says about itself (`info`: its version, model card, device, runtime,
limits), and the last lines of the log of a backend an editor started. Nothing secret: a
key file is named, never read out.
"""

from __future__ import annotations

import json
import platform
import sys

from . import local
from .defaults import PROBE_TIMEOUT_S
from .protocol import VERSION, BackendError

LOG_LINES = 30


def _zmq_versions() -> str:
    try:
        import zmq
    except ImportError as exc:
        return f"not importable ({exc})"
    return f"pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}"


def _backend_info(endpoint: str, key_file: str, timeout: float) -> str:
    from .client import Client

    try:
        key = local.read_server_key(key_file)
        with Client(endpoint, server_key=key) as client:
            info = client.info(timeout=timeout)
    except (BackendError, ValueError) as exc:
        return f"no answer: {getattr(exc, 'message', exc)}"
    info.pop("v", None)
    info.pop("id", None)
    info.pop("type", None)
    return json.dumps(info, indent=2, sort_keys=True)


def report(
    plugin: str,
    editor: str,
    address: str = "",
    key_file: str = "",
    timeout: float = 10 * PROBE_TIMEOUT_S,
) -> str:
    """The diagnostics text (blocks at most about `timeout` s asking the backend)."""
    try:
        endpoint, startable = local.resolve_endpoint(address)
    except ValueError as exc:
        endpoint, startable = address, None
        chosen = f"invalid: {exc}"
    else:
        chosen = "set in the dialog" if address.strip() else "installed backend's (or default)"
    config = local.backend_config()
    log = local.data_dir() / local.LOG_NAME
    lines = [
        f"Sketch Cleanup {VERSION} — {plugin}",
        f"Editor: {editor}",
        f"Python: {sys.version.split()[0]} ({platform.platform()})",
        f"ZeroMQ: {_zmq_versions()}",
        f"Data folder: {local.data_dir()}",
        f"backend.json: {json.dumps(config) if config else 'none (no local backend installed)'}",
        f"Address: {endpoint} ({chosen}); "
        f"{'may be started here' if startable else 'never started here'}",
        f"Server key file: {key_file or 'none'}",
        "",
        "Backend info:",
        _backend_info(endpoint, key_file, timeout) if "://" in endpoint else "not asked",
        "",
        f"Last lines of {log}:",
        local.log_tail(log, LOG_LINES) or "(no log)",
    ]
    return "\n".join(lines) + "\n"
