"""Cancel in the GIMP 3 plug-in's progress window, in GUI GIMP, against a real backend.

As test_gimp_preview.py: GUI GIMP in the trixie chroot, on an Xvfb the chroot reaches over
TCP, the Clean Sketch dialog opened INTERACTIVE by gimp_batch/clean_cases.py and answered
OK by the dialog's test hook (gimp_preview.py). The clean then runs in the plug-in's own
progress window (CancellableProgress); its test hook (SKETCH_CLEANUP_PROGRESS_CANCEL,
sketch-cleanup.py) presses that window's Cancel once the backend reports the network
running, and records when. A second, non-interactive case in the same GIMP then cleans a
small layer. One GIMP start (about 30 s on a 2-core machine) and a backend of its own that
is slow over the big layer (small tiles, one per network call), plus one full clean of it
straight to that backend: how long the cancelled job would have taken.
"""

from __future__ import annotations

import json
import shutil
import time

import cv2
import pytest

from sketch_kit.client import Client
from tests.editors import gimp_gui
from tests.editors.test_gimp import _ran, _succeeded
from tests.support import fixtures

BIG = (2400, 3200)  # h, w: about 4 s for the slow backend below (7500 tiles of 72 px)
SLOW = ["--tile", "72", "--overlap", "16", "--batch", "1"]  # one small tile per network call
CANCEL_AT = "inference"  # the backend stage at which the hook presses Cancel
QUICK_S = 2.0  # from the press to the procedure's return
FULL = {"detail": "custom", "detail-factor": 1.0}  # at the layer's own resolution: slow


@pytest.fixture(scope="module")
def slow_backend(test_model, tmp_path_factory):
    """A backend of its own that takes seconds over BIG, so there is time to cancel."""
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    log = tmp_path_factory.mktemp("slow-backend") / "backend.log"
    args = ["serve", "--bind", endpoint, "--model", str(test_model), *SLOW]
    proc = fixtures.start_backend(args, log)
    try:
        fixtures.wait_ready(endpoint, proc, log)
        yield {"endpoint": endpoint, "log": log}
    finally:
        fixtures.stop(proc)


@pytest.fixture(scope="module")
def cancelled(tmp_path_factory, request):
    """One GUI GIMP session: a clean of a big layer cancelled from the progress window
    while the backend runs the network, then a small clean through the same backend."""
    reason = gimp_gui.missing()
    if reason:
        pytest.skip(reason)
    backend = request.getfixturevalue("slow_backend")  # started only when GIMP is there
    scratch = tmp_path_factory.mktemp("install")
    gimp, base, dumps = gimp_gui.session("sketch-cleanup-cancel-tests", scratch)
    gray = fixtures.drawing(*BIG, seed=23)
    server = backend["endpoint"]
    cases = {
        "cancel": (
            cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR),
            {"interactive": True, "layer_name": "cancel", "config": {"server": server, **FULL}},
        ),
        "again": (
            cv2.cvtColor(fixtures.drawing(200, 300, seed=24), cv2.COLOR_GRAY2BGR),
            {"layer_name": "again", "config": {"server": server}},
        ),
    }
    with gimp_gui.display() as display:
        env = {
            "DISPLAY": display,
            "SKETCH_CLEANUP_PREVIEW_DUMP": gimp.inside(dumps),
            "SKETCH_CLEANUP_PROGRESS_CANCEL": CANCEL_AT,
        }
        results = gimp.run(cases, gui=env)
    yield results, dumps, backend, gray
    shutil.rmtree(base, ignore_errors=True)


def _pressed(dumps) -> dict:
    path = dumps / "cancel.cancel.json"
    assert path.exists(), "the progress window's hook never pressed Cancel"
    return json.loads(path.read_text())


@pytest.mark.editors
def test_gimp_cancel_in_the_progress_window_stops_the_job_and_changes_nothing(
    cancelled,
):
    """Cancel pressed while the backend runs the network: the procedure returns CANCEL
    (no error, no crash) within QUICK_S of the press, the window closed, the image has no
    new layer and the same source pixels, the backend got the cancel request and stopped
    the job (it never finished it), and it then cleans the next layer GIMP sends."""
    results, dumps, backend, gray = cancelled
    result = _ran(results["cancel"])
    assert (dumps / "cancel.json").exists(), "the dialog's hook never answered OK"
    pressed = _pressed(dumps)
    assert pressed["stage"] == CANCEL_AT, pressed
    assert result["status"] == "cancel", f"{result['status']}: {result['message']}"
    assert result["layers"] == result["layers_before"], "a layer was added or changed"
    assert result["source_unchanged"], "the source layer was modified"
    took = result["run_ended"] - pressed["clicked"]
    assert 0 <= took < QUICK_S, f"the plug-in returned {took:.2f} s after Cancel"
    assert pressed["clicked"] <= pressed["closed"] <= result["run_ended"], pressed
    gimp_log = (result["work"].parent / "gimp.log").read_text(errors="replace")
    for bad in ("Traceback", "crashed", "CRITICAL"):  # a plug-in that ended badly says so
        assert bad not in gimp_log, gimp_log[-3000:]

    # the plug-in's cancel request reached the backend (not merely its leaving, which
    # also stops a job: "client … is gone"), and the job stopped mid-way
    job, (h, w) = pressed["job"], BIG
    backend_log = "\n".join(
        line for line in backend["log"].read_text().splitlines() if " backend " in line
    )
    requested = backend_log.find(f"job {job}: cancel requested")
    assert requested >= 0, f"no cancel request for {job}:\n{backend_log[-3000:]}"
    assert backend_log.find(f"job {job} cancelled") > requested, backend_log[-3000:]
    assert f"job {job}: {w}x{h} in" not in backend_log, "the cancelled job ran to the end"

    _succeeded(results["again"])  # the same GIMP cleans again through the same backend
    with Client(backend["endpoint"]) as client:
        begun = time.monotonic()
        header, _ = client.clean(gray.tobytes(), w, h, "gray8", {"scale": 1.0}, timeout=180)
        full = time.monotonic() - begun
    assert header["type"] == "result"
    assert full > 2 * took, f"the whole job takes {full:.1f} s, the cancel {took:.2f} s"
