"""CURVE keys: a backend listening beyond loopback must encrypt and authenticate."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import zmq
import zmq.auth

from sketch_kit.protocol import is_local


def _certificate(public: bytes, secret: bytes | None) -> str:
    """A certificate in the format zmq.auth.load_certificate reads."""
    lines = ["#   ZeroMQ CURVE certificate (python -m backend keys)", "metadata", "curve"]
    lines.append(f'    public-key = "{public.decode()}"')
    if secret:
        lines.append(f'    secret-key = "{secret.decode()}"')
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Write `path` atomically through a file that is 0600 from its creation."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def create(directory: str | Path, name: str = "server", force: bool = False) -> tuple[Path, Path]:
    """Write NAME.key (public, give it to clients) and NAME.key_secret (keep it private).

    An existing pair is kept unless `force`: replacing it locks out every client that has
    the old public key. Raises FileExistsError then.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    public_path = directory / f"{name}.key"
    secret_path = directory / f"{name}.key_secret"
    existing = [str(p) for p in (public_path, secret_path) if p.exists()]
    if existing and not force:
        raise FileExistsError(
            f"{' and '.join(existing)} already exist(s); pass --force to replace the pair "
            "(clients holding the old public key are then locked out)"
        )
    public, secret = zmq.curve_keypair()
    _write_private(secret_path, _certificate(public, secret))
    _write_private(public_path, _certificate(public, None))
    public_path.chmod(0o644)
    return public_path, secret_path


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
            "(clients then need DIR/server.key); only tcp:// on a loopback address "
            "(127.0.0.1, ::1, localhost), ipc:// and inproc:// count as local"
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
