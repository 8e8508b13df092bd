"""One Clean Sketch driven the way an editor drives it, against real backends."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import zmq.auth

from sketch_kit import session as session_module
from sketch_kit.client import Client
from sketch_kit.local import BackendProcess
from sketch_kit.protocol import CleanOptions
from sketch_kit.session import Session, State
from tests.support import fixtures

ROOT = Path(__file__).resolve().parents[2]
PLACE = "the test's settings"


def new_session(address: str = "", process: BackendProcess | None = None, **kwargs) -> Session:
    session = Session(
        address,
        process=process or BackendProcess("the tests"),
        settings_place=PLACE,
        **kwargs,
    )
    session.name = "Sketch"
    session.start()
    return session


def drive(session: Session, states: tuple, timeout: float = 120.0) -> list[str]:
    """Step like GIMP's plug-in does until the session leaves `states`; the statuses seen."""
    statuses = [session.status]
    deadline = time.monotonic() + timeout
    while session.state in states:
        assert time.monotonic() < deadline, f"still {session.state} after {timeout} s"
        session.step()
        if statuses[-1] != session.status:
            statuses.append(session.status)
        time.sleep(0.05)
    return statuses


def connect(session: Session, timeout: float = 120.0) -> list[str]:
    return drive(session, (State.CONNECTING, State.STARTING), timeout)


def clean(
    session: Session, gray: np.ndarray, options: CleanOptions | None = None
) -> tuple[dict, bytes]:
    assert session.state is State.READY, (session.state, session.message)
    h, w = gray.shape
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    assert session.check_fits(w, h, "rgba8")
    wanted = (options or CleanOptions()).replace(output_format="rgba8")
    session.submit(rgba.tobytes(), w, h, "rgba8", wanted)
    drive(session, (State.RUNNING,))
    assert session.outcome == "ok", (session.message, session.details)
    assert session.result is not None
    header, pixels = session.result
    assert (header["width"], header["height"], len(pixels)) == (w, h, w * h * 4)
    return header, pixels


def install_test_backend(home: Path, monkeypatch, test_model: Path, command=None) -> str:
    """A backend.json in `home` (made SKETCH_CLEANUP_HOME) for the test model on a free port."""
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    fixtures.write_backend_json(home, command or fixtures.serve_command(test_model), endpoint)
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(home))
    return endpoint


def test_cleans_with_a_running_backend(backend_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    session = new_session(backend_server["endpoint"])
    connect(session)
    gray = fixtures.drawing(160, 200, seed=3)
    header, pixels = clean(session, gray, CleanOptions(style="white"))
    alpha = np.frombuffer(pixels, np.uint8).reshape(160, 200, 4)[..., 3]
    assert (alpha == 255).all() and not session.started_backend
    assert session.client is not None and session.client._socket is None  # closed at the end


def test_backend_down_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    started = time.monotonic()
    session = new_session(endpoint)
    connect(session)
    assert session.outcome == "error"
    assert session.message.startswith(f"No Sketch Cleanup backend answers at {endpoint}.")
    assert "install.py" in session.message and "sketch-cleanup serve" in session.message
    assert time.monotonic() - started < 10
    remote = new_session("tcp://192.0.2.1:5571", autostart=True)  # TEST-NET: never answers
    connect(remote)
    assert "server key file" in remote.message and PLACE in remote.message


def test_autostart_off_says_so(tmp_path, monkeypatch, test_model):
    endpoint = install_test_backend(tmp_path, monkeypatch, test_model)
    session = new_session(autostart=False)
    connect(session)
    assert session.endpoint == endpoint and session.outcome == "error"
    assert f"Starting it automatically is turned off in {PLACE}" in session.message


def test_starts_the_installed_backend_detached_and_leaves_it_running(
    tmp_path, monkeypatch, test_model
):
    """Nothing answers: the session starts the backend backend.json describes, in its own
    session (GIMP kills a cancelled plug-in's process group), and it outlives the session."""
    install_test_backend(tmp_path, monkeypatch, test_model)
    process = BackendProcess("the tests", detached=True)
    session = new_session(process=process)
    try:
        statuses = connect(session)
        assert session.started_backend and process.running
        assert os.getsid(process.pid) == process.pid, "the backend must run in its own session"
        assert session_module.STARTING in statuses
        clean(session, fixtures.drawing(160, 200, seed=3))
        assert process.running, "the backend keeps running for the next use"
        second = new_session(process=BackendProcess("the tests", detached=True))
        connect(second)  # the next run finds it: nothing started
        assert second.state is State.READY and not second.started_backend
        second.cancel()
        assert "started by the tests" in (tmp_path / "backend.log").read_text()
    finally:
        process.stop()
    assert not process.running


def test_waits_for_the_backend_that_won_the_address(tmp_path, monkeypatch, test_model):
    """The backend the session starts finds the address taken by another editor's backend
    that is still loading: the session waits for that one instead of reporting a failure."""
    endpoint = install_test_backend(tmp_path, monkeypatch, test_model)
    race = fixtures.AddressRace(endpoint, tmp_path / "backend.log", test_model, tmp_path / "b.log")
    with race:
        session = new_session()
        statuses = connect(session, timeout=200)
        assert race.error is None and race.proc is not None
        assert session.state is State.READY, session.message
        assert not session.started_backend, "the one it started gave up the address"
        assert session_module.WAITING_FOR_ANOTHER in statuses
        assert "is already in use" in (tmp_path / "backend.log").read_text()
        clean(session, fixtures.drawing(100, 120, seed=5))


def test_backend_that_fails_to_start_is_reported(tmp_path, monkeypatch, test_model):
    command = [sys.executable, "-c", "import sys; print('no model here'); sys.exit(3)"]
    install_test_backend(tmp_path, monkeypatch, test_model, command)
    session = new_session()
    connect(session)
    assert session.outcome == "error"
    assert session.message == "The Sketch Cleanup backend exited with code 3 while starting."
    assert "no model here" in (session.details or "")


def test_start_timeout_stops_the_backend(tmp_path, monkeypatch, test_model):
    """A backend that never answers is stopped after the start timeout (a fake clock)."""
    command = [sys.executable, "-c", "import time; time.sleep(600)"]
    install_test_backend(tmp_path, monkeypatch, test_model, command)
    now = [0.0]
    process = BackendProcess("the tests")
    session = new_session(process=process, clock=lambda: now[0], start_timeout=30)
    while session.state is State.CONNECTING:
        now[0] += 0.5
        session.step()
    assert session.state is State.STARTING and process.running
    now[0] += 31
    session.step()
    assert session.outcome == "error" and "did not answer within 30 s" in session.message
    assert not process.running


def test_curve_backend_needs_the_right_key(curve_backend, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    endpoint = curve_backend["endpoint"]
    session = new_session(endpoint, key_file=str(curve_backend["public"]))
    connect(session)
    assert session.state is State.READY, session.message
    session.cancel()
    wrong, _ = zmq.auth.create_certificates(tmp_path, "other")
    session = new_session(endpoint, key_file=wrong)
    connect(session)
    assert session.message.startswith(f"No Sketch Cleanup backend answers at {endpoint}.")
    assert "server key file" in session.message
    session = new_session(endpoint, key_file=str(curve_backend["public"]) + "_secret")
    assert session.outcome == "error" and "secret key file" in session.message
    assert PLACE in session.message


def test_size_is_checked_before_the_pixels_are_read(backend_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    session = new_session(backend_server["endpoint"])
    connect(session)
    assert session.check_fits(4000, 3000, "rgbaf32")  # 12 Mpx: within the test's 20 Mpx
    assert not session.check_fits(5000, 5000, "rgba8")  # 25 Mpx
    assert session.outcome == "error"
    assert "The backend could not clean “Sketch”" in session.message
    assert "[too_large]" in session.message and "Select a smaller area" in session.message


def test_cancel_and_job_timeout(backend_server, tmp_path, monkeypatch):
    """Cancel ends at once; a job past its timeout (a fake clock) is cancelled with a
    message saying where to raise the limit; the backend keeps serving."""
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    gray = fixtures.drawing(1200, 1600, seed=8)
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)]).tobytes()
    session = new_session(backend_server["endpoint"])
    connect(session)
    session.submit(rgba, 1600, 1200, "rgba8", CleanOptions(scale=1.0))
    session.cancel()
    assert session.outcome == "cancelled" and session.done

    now = [0.0]
    session = new_session(backend_server["endpoint"], clock=lambda: now[0], job_timeout=120.0)
    connect(session)
    session.submit(rgba, 1600, 1200, "rgba8", CleanOptions(scale=1.0))
    now[0] += 121
    session.step()
    assert session.outcome == "error", session.message
    assert "longer than 2 minutes" in session.message and PLACE in session.message
    again = new_session(backend_server["endpoint"])
    connect(again)
    clean(again, fixtures.drawing(100, 120, seed=6))


def test_drive_cancels_when_the_progress_says_so(backend_server, tmp_path, monkeypatch):
    """GIMP's loop: drive() steps until done, and a tick that returns False (its Cancel
    button) cancels the job on the backend at once; the backend serves the next job."""
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    session = new_session(backend_server["endpoint"])
    ticks = []
    session.drive((State.CONNECTING, State.STARTING), lambda s: ticks.append(s.status) or True)
    assert session.state is State.READY and ticks
    gray = fixtures.drawing(1200, 1600, seed=9)
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)]).tobytes()
    session.submit(rgba, 1600, 1200, "rgba8", CleanOptions(scale=1.0))
    steps = []

    def cancel_on_third_step(_session) -> bool:
        steps.append(1)
        return len(steps) < 3

    started = time.monotonic()
    job = session.job
    session.drive((State.RUNNING,), cancel_on_third_step)
    assert session.outcome == "cancelled" and time.monotonic() - started < 5
    # the backend heard the cancel request itself (not only the client leaving), unless the
    # test network (0.1 s for this layer) finished first; tests/editors/test_gimp_cancel.py
    # cancels a job that is surely running, on a backend made slow
    assert job is not None
    said = (
        f"job {job.id}: cancel requested",
        f"job {job.id} cancelled while queued",
        f"job {job.id}: 1600x1200 in",
    )
    deadline = time.monotonic() + 10
    while not any(line in backend_server["log"].read_text() for line in said):
        assert time.monotonic() < deadline, backend_server["log"].read_text()[-2000:]
        time.sleep(0.1)
    again = new_session(backend_server["endpoint"])
    connect(again)
    clean(again, fixtures.drawing(100, 120, seed=6))


def test_a_started_backend_exits_when_idle_but_not_while_a_job_runs(
    tmp_path, monkeypatch, test_model
):
    """The backend a session starts (detached, as GIMP's) gets the editor's idle time in
    place of backend.json's: jobs keep it up for longer than that, then, with nothing more
    to do, it exits by itself. (The idle time must outlast the client's reconnect back-off,
    2 s, or the backend may leave before the first probe reaches it.)"""
    idle = 3.0
    command = [sys.executable, "-m", "backend", "serve", "--model", str(test_model)]
    install_test_backend(tmp_path, monkeypatch, test_model, [*command, "--idle-exit", "3600"])
    process = BackendProcess("the tests", detached=True)
    session = new_session(process=process, idle_exit=idle)
    gray = fixtures.drawing(1500, 1500, seed=6)
    options = {"scale": 2.0, "output_format": "gray8"}  # 9 MP to work on
    try:
        connect(session)
        assert session.state is State.READY and session.started_backend, session.message
        assert process.command[-4:-2] == ["--idle-exit", "3"] and "3600" not in process.command
        session.cancel()  # the jobs go through a client of their own, to queue several
        with Client(session.endpoint) as client:
            # busy for well over the idle time, whatever this machine's speed: one job
            # measures it, then enough jobs to fill that time wait in the queue at once
            first, _ = client.clean(gray.tobytes(), 1500, 1500, "gray8", options, timeout=300)
            count = min(30, int(4 * idle / max(first["seconds"], 0.01)) + 1)
            jobs = [
                client.start_clean(gray.tobytes(), 1500, 1500, "gray8", options)
                for _ in range(count)
            ]
            busy = first["seconds"] + sum(client.wait(job, 300)[0]["seconds"] for job in jobs)
        assert busy > 1.5 * idle, "the jobs must outlast the idle time to prove anything"
        finished = time.monotonic()
        assert process.process is not None
        assert process.process.wait(60) == 0  # it exits by itself...
        assert time.monotonic() - finished > idle * 0.9  # ...once idle, not at once
        assert "no requests for 3 s: exiting (--idle-exit)" in process.log_tail()
    finally:
        process.stop()
