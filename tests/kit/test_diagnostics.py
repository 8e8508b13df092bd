"""The "Copy diagnostics" text, against a real backend and against none."""

import time

import zmq.auth

from sketch_kit import diagnostics
from sketch_kit.protocol import VERSION
from tests.support import fixtures


def test_diagnostics_of_a_running_backend(backend_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    (tmp_path / "backend.log").write_text("".join(f"line {i}\n" for i in range(100)))
    text = diagnostics.report("Krita plugin", "Krita 5.2.9", backend_server["endpoint"])
    assert text.startswith(f"Sketch Cleanup {VERSION} — Krita plugin\nEditor: Krita 5.2.9\n")
    assert f"Address: {backend_server['endpoint']} (set in the dialog)" in text
    assert '"device":' in text and '"limits":' in text and '"model":' in text
    assert "line 99" in text and "line 69" not in text  # the last 30 lines only
    assert "pyzmq" in text and "libzmq" in text


def test_diagnostics_without_a_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    _, secret = zmq.auth.create_certificates(tmp_path, "server")
    started = time.monotonic()
    text = diagnostics.report("GIMP plug-in", "GIMP 3.0.4", endpoint)
    assert time.monotonic() - started < 5
    assert "Backend info:\nno answer:" in text and "(no log)" in text
    assert "backend.json: none" in text
    text = diagnostics.report("GIMP plug-in", "GIMP 3.0.4", endpoint, key_file=secret)
    assert "secret key file" in text  # said, and the secret never printed
    assert zmq.auth.load_certificate(secret)[1].decode() not in text
    assert "Address: gpu-box (invalid:" in diagnostics.report("x", "y", "gpu-box")
