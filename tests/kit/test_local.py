"""The installed backend's address, keys and environment, as both plugins find them."""

import json

import pytest
import zmq.auth

from sketch_kit import defaults, local
from sketch_kit.protocol import DEFAULT_ENDPOINT


def test_only_a_local_endpoint_is_started(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    assert local.resolve_endpoint("") == (DEFAULT_ENDPOINT, None)  # nothing installed
    config = {"command": ["x"], "endpoint": "tcp://127.0.0.1:5999"}
    (tmp_path / "backend.json").write_text(json.dumps(config))
    assert local.resolve_endpoint("") == ("tcp://127.0.0.1:5999", config)
    assert local.resolve_endpoint(" tcp://127.0.0.1:5999 ")[1] == config
    assert local.resolve_endpoint("tcp://127.0.0.1:6000") == ("tcp://127.0.0.1:6000", config)
    assert local.resolve_endpoint("tcp://gpu-box:5999") == ("tcp://gpu-box:5999", None)
    assert local.resolve_endpoint("tcp://0.0.0.0:1@127.0.0.1")[1] is None  # binds 0.0.0.0
    with pytest.raises(ValueError, match="not a ZeroMQ endpoint"):
        local.resolve_endpoint("gpu-box:5571")
    (tmp_path / "backend.json").write_text("[1, 2]")  # not an object: as if not installed
    assert local.backend_config() is None


def test_server_key_files(tmp_path):
    public, secret = zmq.auth.create_certificates(tmp_path, "server")
    key = local.read_server_key(public)
    assert key == zmq.auth.load_certificate(public)[0].decode()
    (tmp_path / "bare.key").write_text(key + "\n")
    assert local.read_server_key(tmp_path / "bare.key") == key
    assert local.read_server_key("") is None and local.read_server_key(None) is None
    (tmp_path / "junk.key").write_text("hello\n")
    with pytest.raises(local.KeyFileError, match="no CURVE public key"):
        local.read_server_key(tmp_path / "junk.key")
    with pytest.raises(local.KeyFileError, match="Cannot read"):
        local.read_server_key(tmp_path / "missing.key")
    with pytest.raises(local.KeyFileError, match="secret key file"):
        local.read_server_key(secret)


def test_launch_environment_drops_the_editors_python():
    editor = {
        "PATH": "/usr/bin",
        "PYTHONHOME": "/opt/krita/python",
        "PYTHONPATH": "/opt/krita/lib",
        "LD_LIBRARY_PATH": "/tmp/.mount_krita/usr/lib",
        "TF_CPP_MIN_LOG_LEVEL": "0",
    }
    config = {"env": {"PYTHONPATH": "/srv/sketch", "CUDA_VISIBLE_DEVICES": 1}}
    env = local.launch_environment(config, editor)
    assert "PYTHONHOME" not in env and env["PYTHONPATH"] == "/srv/sketch"
    assert env["LD_LIBRARY_PATH"] == editor["LD_LIBRARY_PATH"]  # kept outside an AppImage
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0"  # the artist's choice stays
    appimage = local.launch_environment({}, {**editor, "APPIMAGE": "/x/krita.appimage"})
    assert "LD_LIBRARY_PATH" not in appimage and "PYTHONPATH" not in appimage
    assert local.launch_environment({}, {})["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_the_editor_says_how_long_its_backend_may_sit_idle():
    """backend.json's --idle-exit (install.py writes 3600, for people) gives way to the
    editor's; the kit's default when the editor says nothing."""
    command = ["python", "-m", "backend", "serve", "--idle-exit", "3600", "--tile", "256"]
    assert local.with_idle_exit(command, 120) == [
        *command[:4],
        "--tile",
        "256",
        "--idle-exit",
        "120",
    ]
    assert local.with_idle_exit(["serve", "--idle-exit=5"], 0) == ["serve", "--idle-exit", "0"]
    default = local.with_idle_exit(["serve"], defaults.IDLE_EXIT_S)
    assert default == ["serve", "--idle-exit", f"{defaults.IDLE_EXIT_S:g}"]
