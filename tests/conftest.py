import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.support import fixtures  # noqa: E402
from tests.support.krita_home import install_plugin  # noqa: E402


@pytest.fixture(scope="session")
def test_model(tmp_path_factory) -> Path:
    return fixtures.save_test_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def installed_home(tmp_path_factory) -> Path:
    """A HOME with the Krita plugin installed by the real installer (no Krita needed)."""
    return install_plugin(tmp_path_factory.mktemp("krita-installed"))


@pytest.fixture(scope="session")
def backend_server(test_model, tmp_path_factory):
    """A real `python -m backend serve` process on a free loopback port."""
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    log = tmp_path_factory.mktemp("logs") / "backend.log"
    proc = fixtures.start_backend(
        [
            "serve",
            "--bind",
            endpoint,
            "--model",
            str(test_model),
            *fixtures.TEST_SERVE_OPTIONS,
            "--max-queue",
            "8",
        ],
        log,
    )
    try:
        fixtures.wait_ready(endpoint, proc, log)
        yield {"endpoint": endpoint, "proc": proc, "log": log}
    finally:
        fixtures.stop(proc)


@pytest.fixture(scope="session")
def curve_backend(test_model, tmp_path_factory):
    """A real backend that only speaks CURVE (python -m backend keys; --curve-secret)."""
    import zmq.auth

    keys = tmp_path_factory.mktemp("curve-keys")
    public, secret = zmq.auth.create_certificates(keys, "server")
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    log = keys / "backend.log"
    args = ["serve", "--bind", endpoint, "--model", str(test_model), "--curve-secret", secret]
    proc = fixtures.start_backend(args, log)
    try:
        server_key = zmq.auth.load_certificate(public)[0]
        fixtures.wait_ready(endpoint, proc, log, server_key=server_key)
        yield {"endpoint": endpoint, "public": Path(public), "keys": keys}
    finally:
        fixtures.stop(proc)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    fixtures.save_test_model(folder, name="pencil", card=fixtures.MODEL_CARDS["pencil"])
    fixtures.save_test_model(
        folder, unet=True, name="small-unet", card=fixtures.MODEL_CARDS["small-unet"]
    )
    return folder


@pytest.fixture(scope="session")
def models_server(models_dir, tmp_path_factory):
    """`serve --model FOLDER/pencil.keras --loaded-models 1`: pencil is the default."""
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    log = tmp_path_factory.mktemp("models-log") / "backend.log"
    args = ["serve", "--bind", endpoint, "--model", str(models_dir / "pencil.keras")]
    args += ["--loaded-models", "1", *fixtures.TEST_SERVE_OPTIONS]
    proc = fixtures.start_backend(args, log)
    try:
        fixtures.wait_ready(endpoint, proc, log)
        yield {"endpoint": endpoint, "proc": proc, "log": log}
    finally:
        fixtures.stop(proc)


@pytest.fixture(scope="session")
def broker_server(test_model, tmp_path_factory):
    """A real `python -m backend broker` with one real `worker` behind it, on loopback."""
    front = f"tcp://127.0.0.1:{fixtures.free_port()}"
    back = f"tcp://127.0.0.1:{fixtures.free_port()}"
    logs = tmp_path_factory.mktemp("broker-logs")
    broker = fixtures.start_backend(
        ["broker", "--bind", front, "--workers", back, "--max-queue", "8"], logs / "broker.log"
    )
    worker_args = ["worker", "--connect", back, "--model", str(test_model)]
    worker = fixtures.start_backend([*worker_args, "--tile", "256"], logs / "worker.log")
    try:
        fixtures.wait_for_workers(front, 1, broker, logs / "broker.log")
        yield {
            "endpoint": front,
            "workers_endpoint": back,
            "proc": broker,
            "worker": worker,
            "log": logs / "broker.log",
            "worker_log": logs / "worker.log",
        }
    finally:
        fixtures.stop(worker)
        fixtures.stop(broker)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (SKETCH_REQUIRE_EDITORS=1) an editor test that skips is a failure."""
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("SKETCH_REQUIRE_EDITORS") == "1"
        and ("tests/editors/" in item.nodeid)
    ):
        report.outcome = "failed"
        report.longrepr = f"editor test skipped, but CI requires the editors: {report.longrepr}"
