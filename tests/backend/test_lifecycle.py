"""Backends that die, restart, refuse to start, need keys, or sit behind a broker."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from backend import keys
from sketch_kit import protocol as proto
from sketch_kit.client import Client
from tests.support import fixtures


@pytest.fixture
def spawn(tmp_path, test_model):
    """Start backend processes (killed at the end); returns (proc, endpoint, log)."""
    procs = []

    def start(*args, endpoint=None, with_model=True, wait=True, server_key=None):
        endpoint = endpoint or f"tcp://127.0.0.1:{fixtures.free_port()}"
        log = tmp_path / f"backend-{len(procs)}.log"
        command = list(args)
        if with_model:
            command += ["--model", str(test_model), "--tile", "256"]
        proc = fixtures.start_backend(command, log)
        procs.append(proc)
        if wait:
            fixtures.wait_ready(endpoint, proc, log, server_key=server_key)
        return proc, endpoint, log

    yield start
    for proc in procs:
        fixtures.stop(proc)


def big_job(client, side=3000):
    gray = fixtures.drawing(side, side, seed=1)
    return client.start_clean(gray.tobytes(), side, side, "gray8", {"scale": 1.0})


def test_backend_killed_mid_job_is_reported(spawn):
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    proc, _, _ = spawn("serve", "--bind", endpoint, endpoint=endpoint)
    with Client(endpoint, stall_timeout=2.0) as client:
        job = big_job(client)
        client.pump(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(proto.BackendUnavailable) as err:
            client.wait(job, timeout=60)
        assert time.monotonic() - started < 20
    assert "stopped answering" in err.value.message


def test_backend_restarted_mid_job_is_reported(spawn):
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    proc, _, _ = spawn("serve", "--bind", endpoint, endpoint=endpoint)
    with Client(endpoint, stall_timeout=2.0) as client:
        client.info()
        job = big_job(client)
        client.pump(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        spawn("serve", "--bind", endpoint, endpoint=endpoint)  # same address, new process
        with pytest.raises(proto.BackendUnavailable) as err:
            client.wait(job, timeout=60)
    assert "restarted" in err.value.message


def test_sigterm_stops_the_service_cleanly(spawn):
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    proc, _, log = spawn("serve", "--bind", endpoint, endpoint=endpoint)
    proc.terminate()
    assert proc.wait(20) == 0
    assert "stopped" in log.read_text()


def test_remote_bind_without_keys_is_refused(spawn):
    proc, _, log = spawn("serve", "--bind", "tcp://0.0.0.0:5599", wait=False)
    assert proc.wait(60) != 0
    assert "python -m backend keys" in log.read_text()


def test_curve_keys_encrypt_and_authenticate(spawn, tmp_path):
    public, secret = keys.create(tmp_path / "keys")
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    server_key = keys.load_public(public)
    spawn(
        "serve",
        "--bind",
        endpoint,
        "--curve-secret",
        str(secret),
        endpoint=endpoint,
        server_key=server_key,
    )
    with Client(endpoint, server_key=server_key) as good:
        gray = fixtures.drawing(64, 64)
        assert good.clean(gray.tobytes(), 64, 64, "gray8")[0]["type"] == "result"
    with Client(endpoint) as plain:  # no key: the handshake never completes
        with pytest.raises(proto.BackendUnavailable):
            plain.info(timeout=1.5)
    wrong_key = keys.load_public(keys.create(tmp_path / "other")[0])
    with Client(endpoint, server_key=wrong_key) as wrong:
        with pytest.raises(proto.BackendUnavailable):
            wrong.info(timeout=1.5)


def test_keys_command_writes_a_usable_pair(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "backend", "keys", str(tmp_path / "k")],
        cwd=fixtures.ROOT,
        env=fixtures.backend_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert keys.load_secret(tmp_path / "k" / "server.key_secret")
    assert oct((tmp_path / "k" / "server.key_secret").stat().st_mode & 0o777) == "0o600"


def test_broker_spreads_jobs_over_workers_and_survives_a_dead_worker(spawn):
    front = f"tcp://127.0.0.1:{fixtures.free_port()}"
    back = f"tcp://127.0.0.1:{fixtures.free_port()}"
    spawn("broker", "--bind", front, "--workers", back, with_model=False, wait=False)
    workers = [spawn("worker", "--connect", back, wait=False)[0] for _ in range(2)]
    deadline = time.monotonic() + 90
    with Client(front) as client:
        while time.monotonic() < deadline:
            try:
                if client.info(timeout=1.0)["workers"] == 2:
                    break
            except proto.BackendUnavailable:
                pass
            time.sleep(0.3)
        assert client.info()["workers"] == 2

    gray = fixtures.drawing(700, 700, seed=2)
    done, errors = [], []

    def one_client():
        try:
            with Client(front) as c:
                for _ in range(2):
                    done.append(c.clean(gray.tobytes(), 700, 700, "gray8", {"scale": 1.0})[0])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors and len(done) == 8
    assert len({header["worker"] for header in done}) == 2  # both workers were used

    # a worker dies in the middle of a job: its client is told, the other worker goes on
    with Client(front) as client:
        jobs = [big_job(client) for _ in range(2)]
        client.pump(1.0)
        workers[0].kill()
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(client.wait(job, timeout=120)[0]["type"])
            except proto.BackendError as exc:
                outcomes.append(exc.code)
        assert sorted(outcomes) == ["internal", "result"]
        assert client.info()["workers"] == 1


def test_idle_exit_stops_an_unused_backend(spawn):
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    proc, _, log = spawn("serve", "--bind", endpoint, "--idle-exit", "2", endpoint=endpoint)
    with Client(endpoint) as client:  # requests keep it alive
        for _ in range(3):
            client.ping()
            time.sleep(1)
        assert proc.poll() is None
    assert proc.wait(30) == 0
    assert "--idle-exit" in log.read_text()


def test_authorized_keys_admit_only_known_clients(spawn, tmp_path):
    server_public, server_secret = keys.create(tmp_path / "server")
    allowed = tmp_path / "allowed"
    client_public, client_secret = keys.create(allowed, "artist")
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    server_key = keys.load_public(server_public)
    artist = (keys.load_public(client_public), keys.load_secret(client_secret))
    spawn(
        "serve",
        "--bind",
        endpoint,
        "--curve-secret",
        str(server_secret),
        "--authorized-keys",
        str(allowed),
        endpoint=endpoint,
        wait=False,
    )
    with Client(endpoint, server_key=server_key, client_keys=artist) as known:
        deadline = time.monotonic() + 90
        while True:
            try:
                assert known.info(timeout=1.0)["protocol"] == 1
                break
            except proto.BackendUnavailable:
                assert time.monotonic() < deadline
    with Client(endpoint, server_key=server_key) as stranger:
        with pytest.raises(proto.BackendUnavailable):
            stranger.info(timeout=1.5)
