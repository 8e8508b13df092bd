"""Every keyframe of a clip through kit Sessions, driven the way an editor drives it."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sketch_kit.client import Client
from sketch_kit.clip import Clip, Stage, fixed_options, keyframe_times
from sketch_kit.local import BackendProcess
from sketch_kit.protocol import CleanOptions
from sketch_kit.session import Session
from tests.support import fixtures

H, W = 160, 200
RGBA = CleanOptions(output_format="rgba8")


def rgba(gray: np.ndarray) -> bytes:
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)]).tobytes()


def sessions(address: str, made: list | None = None, **kwargs):
    """A new_session for a Clip; `made` collects the sessions it made."""

    def new_session() -> Session:
        session = Session(
            address, process=BackendProcess("the tests"), settings_place="the tests", **kwargs
        )
        if made is not None:
            made.append(session)
        return session

    return new_session


def no_backend() -> Session:
    raise AssertionError("this clip must not need the backend")


def drive(clip: Clip, frames: dict[int, bytes], timeout: float = 120.0):
    """Step like an editor until done; (outputs, statuses, fractions) along the way."""
    outputs, statuses, fractions = [], [clip.status], []
    clip.start()
    deadline = time.monotonic() + timeout
    while not clip.done:
        assert time.monotonic() < deadline, f"still {clip.stage} after {timeout} s"
        clip.step()
        if clip.stage is Stage.READ:
            clip.feed(frames[clip.time])
        if clip.stage is Stage.WRITE:
            outputs.append(clip.output)
            statuses.append(clip.status)
            clip.written()
        if statuses[-1] != clip.status:
            statuses.append(clip.status)
        fractions.append(clip.fraction)
        time.sleep(0.01)
    return outputs, statuses, fractions


def backend_clean(endpoint: str, data: bytes, options: CleanOptions) -> tuple[dict, bytes]:
    with Client(endpoint) as client:
        return client.clean(data, W, H, "rgba8", options)


# ---------------------------------------------------------------- pure parts


def test_keyframe_times_asks_every_time_up_to_the_last():
    asked = []

    def has_keyframe(t: int) -> bool:
        asked.append(t)
        return t in (0, 3, 7, 12)

    assert keyframe_times(has_keyframe, 10) == [0, 3, 7]
    assert asked == list(range(11))


def test_fixed_options_take_the_measured_numbers_for_auto_only():
    header = {"scale": 0.4321, "line_width": 2.35}
    auto = CleanOptions(scale="auto", line_width="auto", style="white")
    assert fixed_options(auto, header) == auto.replace(scale=0.4321, line_width=2.35)
    model = CleanOptions(scale="auto", line_width="model")
    assert fixed_options(model, header) == model.replace(scale=0.4321)
    custom = CleanOptions(scale=1.5, line_width=3.0)
    assert fixed_options(custom, header) == custom
    # a working scale shrunk below the protocol's range for a huge canvas stays sendable
    clamped = fixed_options(auto, {"scale": 0.05, "line_width": 40.0})
    assert (clamped.scale, clamped.line_width) == (0.1, 32.0)
    with pytest.raises(ValueError, match="which scale"):
        fixed_options(auto, {"line_width": 2.0})
    with pytest.raises(ValueError, match="which line_width"):
        fixed_options(auto, {"scale": 1.0, "line_width": None})


def test_blank_keyframes_need_no_backend_and_all_blank_is_an_error():
    empty = bytes(W * H * 4)
    clip = Clip([4, 0], W, H, "rgba8", RGBA, no_backend, name="Sketch")
    outputs, statuses, _ = drive(clip, {0: empty, 4: empty})
    assert [(o.time, o.kind) for o in outputs] == [(0, "blank"), (4, "blank")]
    assert clip.outcome == "error"
    assert clip.message == (
        "Every keyframe of “Sketch” is empty (fully transparent): nothing to clean."
    )
    assert "Frame 1 of 2 (at frame 0): Reading “Sketch”…" in statuses


def test_a_drawing_outside_the_selection_counts_as_blank():
    frame = np.zeros((H, W, 4), np.uint8)
    frame[:, 150:, 3] = 255  # black strokes on a transparent layer, only on the right
    mask = np.zeros((H, W), np.uint8)
    mask[:, :100] = 255  # the selection on the left
    clip = Clip([0], W, H, "rgba8", RGBA, no_backend, name="Sketch", mask=mask.tobytes())
    drive(clip, {0: frame.tobytes()})
    assert clip.outcome == "error" and "empty inside the selection" in clip.message


def test_no_keyframes_is_an_error():
    clip = Clip([], W, H, "rgba8", RGBA, no_backend, name="Sketch")
    clip.start()
    assert clip.done and clip.message == "“Sketch” has no keyframes: nothing to clean."


# ---------------------------------------------------------------- against a real backend


def test_every_keyframe_at_the_scale_measured_once(backend_server, tmp_path, monkeypatch):
    """The first keyframe with ink is cleaned with the artist's options; every other one is
    sent with the scale and line width its result reported, even where `auto` would
    measure differently; blank and repeated keyframes need no job."""
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    endpoint = backend_server["endpoint"]
    first = rgba(fixtures.drawing(H, W, seed=1, width_px=3))
    heavy = rgba(fixtures.drawing(H, W, seed=2, width_px=7))
    light = rgba(fixtures.drawing(H, W, seed=3, width_px=2))
    frames = {0: bytes(W * H * 4), 2: first, 5: heavy, 9: first, 11: light}
    options = RGBA.replace(line_width="auto")
    made: list[Session] = []
    clip = Clip(frames, W, H, "rgba8", options, sessions(endpoint, made), name="Sketch")
    outputs, statuses, fractions = drive(clip, frames)
    assert clip.outcome == "ok", (clip.message, clip.details)
    assert [(o.time, o.kind, o.same_as) for o in outputs] == [
        (0, "blank", None),
        (2, "clean", None),
        (5, "clean", None),
        (9, "copy", 2),
        (11, "clean", None),
    ]
    assert len(made) == 3 and clip.counts == {"clean": 3, "blank": 1, "copy": 1}
    assert clip.measured_at == 2 and not clip.started_backend

    measured, expected_first = backend_clean(endpoint, first, options)
    assert outputs[1].data == expected_first
    fixed = clip.fixed
    assert fixed is not None
    assert (fixed.scale, fixed.line_width) == (measured["scale"], measured["line_width"])
    for output, frame in ((outputs[2], heavy), (outputs[4], light)):
        _, expected = backend_clean(endpoint, frame, fixed)
        assert output.data == expected
    # `auto` would have measured the heavy frame on its own: a different scale and width
    own, _ = backend_clean(endpoint, heavy, options)
    assert own["scale"] != measured["scale"] and own["line_width"] != measured["line_width"]

    assert any(s.startswith("Frame 3 of 5 (at frame 5): ") for s in statuses), statuses
    assert "Frame 4 of 5 (at frame 9): Adding the frame…" in statuses
    known = [f for f in fractions if f is not None]
    assert known == sorted(known) and known[-1] == 1.0


def test_cancel_mid_clip_stops_the_running_job(backend_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    h, w = 1200, 1600
    frame = rgba(fixtures.drawing(h, w, seed=8))
    made: list[Session] = []
    new_session = sessions(backend_server["endpoint"], made)
    clip = Clip([0, 1], w, h, "rgba8", RGBA.replace(scale=1.0), new_session, name="Sketch")
    clip.start()
    clip.feed(frame)
    deadline = time.monotonic() + 60
    while clip.client is None:  # until the job runs on the backend
        assert time.monotonic() < deadline and not clip.done, clip.message
        clip.step()
        time.sleep(0.01)
    clip.cancel()
    assert clip.outcome == "cancelled" and clip.message == "Cancelled."
    assert made[0].outcome == "cancelled" and clip.output is None and clip.client is None


def test_an_error_names_the_frame(tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCH_CLEANUP_HOME", str(tmp_path))
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    new_session = sessions(endpoint, autostart=False)
    clip = Clip([3, 8], W, H, "rgba8", RGBA, new_session, name="Sketch")
    frame = rgba(fixtures.drawing(H, W, seed=1))
    drive(clip, {3: frame, 8: frame}, timeout=30)
    assert clip.outcome == "error"
    assert clip.message.startswith(
        f"Frame 1 of 2 (at frame 3): No Sketch Cleanup backend answers at {endpoint}."
    ), clip.message
