"""CURVE keys: a backend listening beyond loopback must encrypt and authenticate."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import zmq
import zmq.auth

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def is_local(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback address."""
    scheme = endpoint.split("://", 1)[0]
    if scheme in ("ipc", "inproc"):
        return True
    host = urlsplit(endpoint).hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def create(directory: str | Path, name: str = "server") -> tuple[Path, Path]:
    """Write NAME.key (public, give it to clients) and NAME.key_secret (keep it private)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(directory, name)
    Path(secret).chmod(0o600)
    return Path(public), Path(secret)


def load_secret(path: str | Path) -> bytes:
    _, secret = zmq.auth.load_certificate(str(path))
    if not secret:
        raise ValueError(f"{path} holds no secret key; pass the .key_secret file")
    return secret


def load_public(path: str | Path) -> bytes:
    public, _ = zmq.auth.load_certificate(str(path))
    return public


def require_keys_for(endpoint: str, secret_path: str | None) -> bytes | None:
    """The secret key to serve with, or a clear refusal for an unprotected remote bind."""
    if secret_path:
        return load_secret(secret_path)
    if not is_local(endpoint):
        raise SystemExit(
            f"refusing to listen on {endpoint} without encryption: create keys with "
            "`python -m backend keys DIR` and pass --curve-secret DIR/server.key_secret "
            "(clients then need DIR/server.key)"
        )
    return None


def authorize_clients(context: zmq.Context, directory: str | None):
    """Only clients whose public keys are in `directory` may connect (ZAP); None: any."""
    if not directory:
        return None
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=str(directory))
    return auth
