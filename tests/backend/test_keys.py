"""Who may listen where without CURVE, and key pairs that are never exposed or lost."""

import builtins
import os
import stat

import pytest

from backend import keys
from tests.backend.test_cli import run_cli
from tests.support import fixtures


@pytest.mark.parametrize(
    "endpoint",
    [
        "tcp://127.0.0.1:5571",
        "tcp://127.3.4.5:5571",
        "tcp://localhost:5571",
        "tcp://[::1]:5571",
        "tcp://127.0.0.1:*",
        "ipc:///tmp/sketch.sock",
        "inproc://x",
    ],
)
def test_loopback_endpoints_are_local(endpoint):
    assert keys.is_local(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "tcp://0.0.0.0:5571",
        "tcp://*:5571",
        "tcp://0.0.0.0:47042@127.0.0.1",  # libzmq binds 0.0.0.0; urlsplit reads 127.0.0.1
        "tcp://127.0.0.1:47042@0.0.0.0",
        "tcp://user@127.0.0.1:5571",
        "tcp://0.0.0.0:5571;127.0.0.1:5571",
        "tcp://127.evil.example:5571",
        "tcp://eth0:5571",
        "tcp://[::]:5571",
        "tcp://127.0.0.1",
        "ws://127.0.0.1:5571",
        "127.0.0.1:5571",
    ],
)
def test_everything_else_is_remote(endpoint):
    assert not keys.is_local(endpoint)


@pytest.mark.parametrize("command", ["serve", "broker"])
def test_a_source_form_bind_is_refused_without_keys(command, test_model):
    """`serve --bind tcp://0.0.0.0:P@127.0.0.1` listened on every interface unencrypted."""
    sneaky = f"tcp://0.0.0.0:{fixtures.free_port()}@127.0.0.1"
    if command == "serve":
        args = ["serve", "--bind", sneaky, "--model", str(test_model)]
    else:
        front = f"tcp://127.0.0.1:{fixtures.free_port()}"
        args = ["broker", "--bind", front, "--workers", sneaky]
    out = run_cli(*args, timeout=120)
    assert out.returncode != 0
    assert "refusing to listen on" in out.stderr and "python -m backend keys" in out.stderr


def read_keys(directory):
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_keys_refuses_to_replace_a_pair_without_force(tmp_path):
    first = run_cli("keys", str(tmp_path / "k"), timeout=60)
    assert first.returncode == 0, first.stderr
    before = read_keys(tmp_path / "k")
    again = run_cli("keys", str(tmp_path / "k"), timeout=60)
    assert again.returncode == 1 and "--force" in again.stderr
    assert read_keys(tmp_path / "k") == before  # nothing replaced
    forced = run_cli("keys", str(tmp_path / "k"), "--force", timeout=60)
    assert forced.returncode == 0, forced.stderr
    after = read_keys(tmp_path / "k")
    assert after["server.key_secret"] != before["server.key_secret"]
    assert keys.load_secret(tmp_path / "k" / "server.key_secret")
    assert sorted(after) == ["server.key", "server.key_secret"]  # no temporary left behind


def test_secret_key_is_private_from_its_creation(tmp_path, monkeypatch):
    """Every handle ever opened on the secret key's file is 0600 the moment it exists."""
    modes = []
    real_open, real_os_open = builtins.open, os.open

    def watched_open(file, *args, **kwargs):
        handle = real_open(file, *args, **kwargs)
        if "key_secret" in str(file):
            modes.append(stat.S_IMODE(os.fstat(handle.fileno()).st_mode))
        return handle

    def watched_os_open(path, *args, **kwargs):
        fd = real_os_open(path, *args, **kwargs)
        if "key_secret" in str(path):
            modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return fd

    monkeypatch.setattr(builtins, "open", watched_open)
    monkeypatch.setattr(os, "open", watched_os_open)
    old_umask = os.umask(0o022)
    try:
        _, secret = keys.create(tmp_path / "k")
    finally:
        os.umask(old_umask)
    assert modes and all(mode == 0o600 for mode in modes), [oct(m) for m in modes]
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert keys.load_secret(secret) and keys.load_public(tmp_path / "k" / "server.key")
