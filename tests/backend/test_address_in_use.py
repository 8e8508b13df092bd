"""A second backend on a taken address says so and exits with EXIT_ADDRESS_IN_USE, which the
editor plugins read as "another backend holds it: wait for that one"."""

import subprocess
import sys

import sketch_client as proto
from tests import fixtures


def run_backend(*args):
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=fixtures.ROOT,
        env=fixtures.backend_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_on_a_taken_address(backend_server, test_model):
    endpoint = backend_server["endpoint"]
    second = run_backend("serve", "--bind", endpoint, "--model", str(test_model))
    assert second.returncode == proto.EXIT_ADDRESS_IN_USE, second.stderr[-2000:]
    assert f"{endpoint} is already in use" in second.stderr
    assert "Traceback" not in second.stderr
    # the first one is unharmed
    client = proto.Client(endpoint)
    try:
        assert client.info(timeout=10)["type"] == "info"
    finally:
        client.close()


def test_broker_on_a_taken_address(backend_server):
    workers = f"tcp://127.0.0.1:{fixtures.free_port()}"
    second = run_backend("broker", "--bind", backend_server["endpoint"], "--workers", workers)
    assert second.returncode == proto.EXIT_ADDRESS_IN_USE, second.stderr[-2000:]
    assert "is already in use" in second.stderr
