"""The Krita plugin: its byte helpers, settings and installer here in pytest's Python, and
the plugin itself in real GUI Krita under Xvfb against a real backend process.

The GUI tests run Krita with a test-only harness plugin (tests/editors/krita_harness) that
opens a real document, triggers the plugin's real actions, answers its real dialogs and
message boxes, and dumps layer bytes; the checks here compare those bytes with what the
backend itself returns for the same pixels and with the drawing's ink. They skip, naming the
command to run, when Krita or Xvfb is not installed (tests/provision_krita.sh).
"""

from __future__ import annotations

import os
import signal
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from sketch_kit.client import Client
from sketch_kit.protocol import DEFAULT_OPTIONS
from tests.editors.conftest import edit_kritarc, krita_missing, run_krita
from tests.support import fixtures

ROOT = Path(__file__).resolve().parents[2]
CANVAS = (300, 400)  # h, w of the everyday test sketch
BIG = (1800, 2400)  # takes the backend about 2 s: long enough to cancel or kill mid-job
DTYPES = {"u8": np.uint8, "u16": "<u2", "f16": "<f2", "f32": "<f4"}
FORMAT_DTYPE = {
    "bgra8": ("u8", 4),
    "bgra16": ("u16", 4),
    "rgbaf16": ("f16", 4),
    "rgbaf32": ("f32", 4),
    "graya8": ("u8", 2),
    "graya16": ("u16", 2),
    "grayaf32": ("f32", 2),
}

gui = pytest.mark.editors


# ---------------------------------------------------------------- helpers


def decode(raw: bytes, fmt: str, w: int, h: int) -> np.ndarray:
    kind, channels = FORMAT_DTYPE[fmt]
    return np.frombuffer(raw, DTYPES[kind]).reshape(h, w, channels)


def alpha01(array: np.ndarray, fmt: str) -> np.ndarray:
    a = array[..., -1].astype(np.float64)
    kind = FORMAT_DTYPE[fmt][0]
    return a / {"u8": 255.0, "u16": 65535.0}.get(kind, 1.0)


def png_graya8(path: Path, gray: np.ndarray, alpha: np.ndarray) -> None:
    """A gray+alpha 8-bit PNG (colour type 4), which OpenCV cannot write."""
    h, w = gray.shape
    rows = np.dstack([gray, alpha]).reshape(h, w * 2)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 8, 4, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def blue_of(gray: np.ndarray) -> np.ndarray:
    """The test sketches are on warm paper: blue is 80 % of red and green, so a swapped
    channel order shows in the bytes."""
    return (gray.astype(np.uint16) * 4 // 5).astype(np.uint8)


def make_image(folder: Path, kind: str, shape=CANVAS) -> tuple[Path, np.ndarray]:
    """A test sketch as a PNG Krita opens natively in the wanted depth; returns (path, gray):
    red = green = gray, blue = blue_of(gray) (grayscale PNGs: gray)."""
    gray = fixtures.drawing(*shape)
    blue = blue_of(gray)
    opaque = np.full_like(gray, 255)
    path = folder / f"sketch-{kind}-{shape[1]}x{shape[0]}.png"
    if kind == "rgba8":
        cv2.imwrite(str(path), np.dstack([blue, gray, gray, opaque]))  # OpenCV writes B,G,R,A
    elif kind == "rgba16":
        g16, b16 = gray.astype(np.uint16) * 257, blue.astype(np.uint16) * 257
        cv2.imwrite(str(path), np.dstack([b16, g16, g16, np.full_like(g16, 65535)]))
    elif kind == "graya8":
        png_graya8(path, gray, opaque)
    else:
        raise ValueError(kind)
    return path, gray


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def check_layout(sketch: np.ndarray, fmt: str, gray: np.ndarray) -> None:
    """Krita's layer bytes, read as the format the plugin sends, are the PNG's channels: the
    notes' claim that U8/U16 RGBA is B,G,R,A and float RGBA is R,G,B,A (linear) holds."""
    blue = blue_of(gray)
    if fmt == "bgra8":
        np.testing.assert_array_equal(sketch[..., 2], gray)
        np.testing.assert_array_equal(sketch[..., 0], blue)
        assert (sketch[..., 3] == 255).all()
    elif fmt == "bgra16":
        np.testing.assert_array_equal(sketch[..., 2], gray.astype(np.uint16) * 257)
        np.testing.assert_array_equal(sketch[..., 0], blue.astype(np.uint16) * 257)
        assert (sketch[..., 3] == 65535).all()
    elif fmt in ("rgbaf32", "rgbaf16"):
        values = sketch.astype(np.float64)
        np.testing.assert_allclose(values[..., 0], srgb_to_linear(gray / 255.0), atol=3e-3)
        np.testing.assert_allclose(values[..., 2], srgb_to_linear(blue / 255.0), atol=3e-3)
        np.testing.assert_allclose(values[..., 3], 1.0, atol=1e-3)
    elif fmt == "graya8":
        np.testing.assert_array_equal(sketch[..., 0], gray)
        assert (sketch[..., 1] == 255).all()
    elif fmt == "graya16":
        # Krita converts 8 → 16 bit through LCMS: off by up to ~10/65535 in the darks
        np.testing.assert_allclose(sketch[..., 0], gray.astype(np.float64) * 257, atol=20)
        assert (sketch[..., 1] == 65535).all()
    elif fmt == "grayaf32":
        np.testing.assert_allclose(sketch[..., 0], srgb_to_linear(gray / 255.0), atol=3e-3)
        np.testing.assert_allclose(sketch[..., 1], 1.0, atol=1e-6)
    else:
        raise ValueError(fmt)


def reference(endpoint: str, sketch: np.ndarray, rect, fmt: str, options: dict) -> np.ndarray:
    """What the backend itself makes of the same pixels: the bytes the layer must hold."""
    return backend_result(endpoint, sketch, rect, fmt, options)[1]


def backend_result(endpoint: str, sketch: np.ndarray, rect, fmt: str, options: dict):
    """reference() with the result's header: (header, pixels)."""
    x, y, w, h = rect
    crop = np.ascontiguousarray(sketch[y : y + h, x : x + w])
    with Client(endpoint) as client:
        header, data = client.clean(crop.tobytes(), w, h, fmt, {**options, "output_format": fmt})
    assert (header["width"], header["height"], header["format"]) == (w, h, fmt)
    return header, decode(data, fmt, w, h)


def check_lines_follow_ink(result: np.ndarray, fmt: str, gray: np.ndarray) -> None:
    """Lines where the drawing had ink, fully transparent on paper away from strokes."""
    alpha = alpha01(result, fmt)
    ink = gray < 90
    near = cv2.dilate(ink.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    paper = ~near & (gray > 190)
    assert ink.sum() > 500 and paper.sum() > 10000
    assert alpha[ink].mean() > 0.8, f"ink pixels have mean alpha {alpha[ink].mean():.2f}"
    assert (alpha[paper] == 0).mean() > 0.99, "paper away from strokes must stay transparent"
    if fmt.startswith("bgra") or fmt.startswith("rgba"):
        lines = alpha > 0.5
        assert np.abs(result[..., :3][lines].astype(np.float64)).max() <= 0.01 * (
            255 if fmt == "bgra8" else 65535 if fmt == "bgra16" else 1
        ), "transparent style draws black lines"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def backend_json(home: Path, test_model: Path, endpoint: str, *extra: str) -> None:
    """What install.py's launcher step writes, pointing at this checkout and the test model."""
    command = fixtures.serve_command(test_model, *fixtures.TEST_SERVE_OPTIONS, *extra)
    fixtures.write_backend_json(home / "sketch-cleanup", command, endpoint)


def names(layers: list[dict]) -> list[str]:
    """Layer names bottom to top, without the global selection's mask (Krita adds that
    node by itself, some time after a selection is made)."""
    return [layer["name"] for layer in layers if layer["type"] != "selectionmask"]


def assert_untouched(run: dict, krita) -> None:
    """No new layer and the source's bytes identical to before."""
    assert run["sketch_unchanged"], krita.describe()
    assert krita.raw(f"{run['name']}-sketch-before.raw") == krita.raw(
        f"{run['name']}-sketch-after.raw"
    )
    assert names(run["layers_after"]) == names(run["layers_before"])


def assert_clean_layer(run: dict, krita, fmt: str, expected: np.ndarray, rect) -> np.ndarray:
    """The result layer sits right above the source, same colour space, holds `expected`
    inside rect and nothing outside; returns the result over the whole canvas."""
    assert run["outcome"][0]["outcome"] == "ok", krita.describe()
    assert run["above"] == "Clean Sketch", run["layers_after"]
    names_before = names(run["layers_before"])
    names_after = names(run["layers_after"])
    index = names_before.index("Sketch")
    assert (
        names_after == names_before[: index + 1] + ["Clean Sketch"] + names_before[index + 1 :]
    ), (
        run["layers_before"],
        run["layers_after"],
        krita.describe(),
    )
    assert run["result_model"] == run["sketch_model"]
    assert run["outcome"][0]["format"] == fmt
    assert_source_kept(run, krita)
    w, h = run["canvas"]
    result = decode(krita.raw(f"{run['name']}-result.raw"), fmt, w, h)
    x, y, rw, rh = rect
    np.testing.assert_array_equal(result[y : y + rh, x : x + rw], expected)
    outside = np.ones((h, w), bool)
    outside[y : y + rh, x : x + rw] = False
    assert not result[outside].any(), "the result layer must be empty outside the cleaned area"
    return result


def assert_source_kept(run: dict, krita) -> None:
    assert run["sketch_unchanged"], krita.describe()
    assert krita.raw(f"{run['name']}-sketch-before.raw") == krita.raw(
        f"{run['name']}-sketch-after.raw"
    )


def sketch_pixels(run: dict, krita, fmt: str) -> np.ndarray:
    w, h = run["canvas"]
    return decode(krita.raw(f"{run['name']}-sketch-before.raw"), fmt, w, h)


# ---------------------------------------------------------------- real Krita


@pytest.fixture(autouse=True)
def _skip_without_krita(request):
    if request.node.get_closest_marker("editors") and krita_missing():
        pytest.skip(krita_missing())


FORMAT_CASES = {
    # name: (png kind, conversion after opening, protocol format)
    "rgba8": ("rgba8", None, "bgra8"),
    "rgba16": ("rgba16", None, "bgra16"),
    "rgbaf32": ("rgba8", ["RGBA", "F32", "sRGB-elle-V2-g10.icc"], "rgbaf32"),
    "graya8": ("graya8", None, "graya8"),
    "graya16": ("graya8", ["GRAYA", "U16", "Gray-D50-elle-V2-srgbtrc.icc"], "graya16"),
    "grayaf32": ("graya8", ["GRAYA", "F32", "Gray-D50-elle-V2-g10.icc"], "grayaf32"),
}


@gui
@pytest.mark.parametrize("case", list(FORMAT_CASES))
def test_clean_sketch_in_krita(case, krita_home, backend_server, tmp_path):
    png, convert, fmt = FORMAT_CASES[case]
    image, gray = make_image(tmp_path, png)
    edit_kritarc(krita_home, "sketch_cleanup", {"server": backend_server["endpoint"]})
    main = case == "rgba8"
    run_spec = {"name": case, "expect": "ok", "undo": main}
    if main:
        run_spec["screenshot"] = str(tmp_path / "krita.png")
    krita = run_krita(krita_home, {"image": str(image), "convert": convert, "runs": [run_spec]})
    assert krita.returncode == 0, krita.describe()
    run = krita.run(case)
    assert (
        run["sketch_model"][:2]
        == {
            "bgra8": ["RGBA", "U8"],
            "bgra16": ["RGBA", "U16"],
            "rgbaf32": ["RGBA", "F32"],
            "graya8": ["GRAYA", "U8"],
            "graya16": ["GRAYA", "U16"],
            "grayaf32": ["GRAYA", "F32"],
        }[fmt]
    )
    sketch = sketch_pixels(run, krita, fmt)
    check_layout(sketch, fmt, gray)
    h, w = CANVAS
    expected = reference(backend_server["endpoint"], sketch, (0, 0, w, h), fmt, DEFAULT_OPTIONS)
    result = assert_clean_layer(run, krita, fmt, expected, (0, 0, w, h))
    check_lines_follow_ink(result, fmt, gray)
    assert run.get("progress_seen") and run["boxes"] == []
    if main:
        assert krita.result["shortcut"] == "Ctrl+Alt+K"  # from sketch_cleanup.action
        assert krita.result["menu_text"] == "Clean Sketch"
        assert names(run["layers_after_undo"]) == names(run["layers_before"]), (
            "one undo removes the result layer"
        )
        shot = Path(run["screenshot"])  # QWidget.grab of the main window under Xvfb
        assert shot.stat().st_size > 10000


@gui
def test_selection_in_half_float(krita_home, backend_server, tmp_path):
    """Only the selection's bounding box is sent, and the result is masked by the selection."""
    image, gray = make_image(tmp_path, "rgba8")
    rects = [(40, 30, 200, 120), (40, 150, 100, 100)]  # an L shape
    box = (40, 30, 200, 220)
    edit_kritarc(krita_home, "sketch_cleanup", {"server": backend_server["endpoint"]})
    scenario = {
        "image": str(image),
        "convert": ["RGBA", "F16", "sRGB-elle-V2-g10.icc"],
        "runs": [{"name": "selection", "expect": "ok", "selection": rects}],
    }
    krita = run_krita(krita_home, scenario)
    assert krita.returncode == 0, krita.describe()
    run = krita.run("selection")
    assert run["sketch_model"][:2] == ["RGBA", "F16"]
    sketch = sketch_pixels(run, krita, "rgbaf16")
    check_layout(sketch, "rgbaf16", gray)
    expected = reference(backend_server["endpoint"], sketch, box, "rgbaf16", DEFAULT_OPTIONS).copy()
    inside = np.zeros(CANVAS, bool)
    for x, y, w, h in rects:
        inside[y : y + h, x : x + w] = True
    x, y, w, h = box
    expected[~inside[y : y + h, x : x + w], 3] = 0
    assert expected[..., 3].any() and (expected[..., 3] == 0).any()
    assert_clean_layer(run, krita, "rgbaf16", expected, box)
    b = run["result_bounds"]
    assert b[0] >= x and b[1] >= y and b[0] + b[2] <= x + w and b[1] + b[3] <= y + h


@gui
def test_options_dialog_is_used_and_remembered(krita_home, backend_server, tmp_path):
    """Filter ▸ Clean Sketch Options… sets the style; the next Clean Sketch uses it; the
    options survive a restart (kritarc); quitting Krita leaves a backend it did not start."""
    image, gray = make_image(tmp_path, "rgba8")
    edit_kritarc(krita_home, "sketch_cleanup", {"server": backend_server["endpoint"]})
    chosen = {
        "style": "white",
        "line_color": "#c02020",
        "threshold": "fixed",
        "threshold_level": 0.4,
        "detail": "custom",
        "detail_factor": 1.5,
        "line_weight": "custom",
        "line_width": 3.0,
    }
    scenario = {
        "image": str(image),
        "runs": [{"name": "styled", "expect": "ok", "options_dialog": chosen}],
        "quit": "normal",
    }
    krita = run_krita(krita_home, scenario)
    assert krita.result is not None and krita.result["code"] == 0, krita.describe()
    run = krita.run("styled")
    assert run["settings_after_dialog"] == {
        "style": "white",
        "line_color": "#c02020",
        "threshold": "fixed",
        "threshold_level": "0.4",
        "detail": "custom",
        "detail_factor": "1.5",
        "line_weight": "custom",
        "line_width": "3.0",
    }
    sketch = sketch_pixels(run, krita, "bgra8")
    options = {"style": "white", "color": "#c02020", "threshold": 0.4, "scale": 1.5}
    options["line_width"] = 3.0
    h, w = CANVAS
    expected = reference(backend_server["endpoint"], sketch, (0, 0, w, h), "bgra8", options)
    result = assert_clean_layer(run, krita, "bgra8", expected, (0, 0, w, h))
    assert (result[..., 3] == 255).all(), "white style is opaque"
    ink = gray < 60
    b, g, r = (result[..., i][ink].astype(int) for i in range(3))
    assert np.median(r) > 150 and np.median(g) < 80 and np.median(b) < 80, "lines in the chosen red"
    kritarc = (krita_home / ".config" / "kritarc").read_text()
    assert "style=white" in kritarc and "line_color=#c02020" in kritarc, "options are saved on quit"
    assert backend_server["proc"].poll() is None, "a backend the plugin did not start keeps running"


@gui
def test_no_backend_and_no_document(krita_home, tmp_path):
    """No backend listening and none installed: a clear message, nothing changed."""
    image, _ = make_image(tmp_path, "rgba8")
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    edit_kritarc(krita_home, "sketch_cleanup", {"server": endpoint})
    scenario = {
        "image": str(image),
        "runs_without_document": [{"name": "nodoc", "expect": "refused"}],
        "runs": [{"name": "down", "expect": "error"}],
    }
    krita = run_krita(krita_home, scenario)
    assert krita.returncode == 0, krita.describe()
    nodoc = krita.run("nodoc")
    assert [b["text"] for b in nodoc["boxes"]] == [
        "Open an image first: Clean Sketch works on the active paint layer."
    ]
    run = krita.run("down")
    assert len(run["boxes"]) == 1, run["boxes"]
    text = run["boxes"][0]["text"]
    assert f"No Sketch Cleanup backend answers at {endpoint}" in text
    assert "install.py" in text and "sketch-cleanup serve" in text
    assert run["boxes"][0]["title"] == "Sketch Cleanup"
    assert_untouched(run, krita)
    assert run["seconds"] < 10, "a missing backend is reported within seconds"
    assert run["max_gap"] < 1.0, "looking for the backend must not freeze Krita"


@gui
def test_autostart_and_stop_on_quit(krita_home, test_model, backend_server, tmp_path):
    """backend.json present, nothing listening: the plugin starts the backend (binding the
    configured endpoint), the job succeeds, and quitting Krita stops that backend."""
    image, gray = make_image(tmp_path, "rgba8")
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    backend_json(krita_home, test_model, endpoint)  # no endpoint in kritarc: backend.json's
    scenario = {"image": str(image), "runs": [{"name": "auto", "expect": "ok"}], "quit": "normal"}
    pid = None
    try:
        krita = run_krita(krita_home, scenario, timeout=180)
        assert krita.result is not None and krita.result["code"] == 0, krita.describe()
        run = krita.run("auto")
        outcome = run["outcome"][0]
        pid = outcome["backend_pid"]
        assert outcome["started_backend"] and pid, outcome
        assert "Starting the Sketch Cleanup backend…" in run["progress_labels"]
        # ~10 s of start-up and cleaning, yet Krita's event loop was never held up for long
        assert run["seconds"] > 3 and run["max_gap"] < 1.0, (run["seconds"], run["max_gap"])
        cmdline = (krita_home / "sketch-cleanup" / "backend.log").read_text()
        assert "Traceback" not in cmdline
        sketch = sketch_pixels(run, krita, "bgra8")
        h, w = CANVAS
        expected = reference(
            backend_server["endpoint"], sketch, (0, 0, w, h), "bgra8", DEFAULT_OPTIONS
        )
        assert_clean_layer(run, krita, "bgra8", expected, (0, 0, w, h))
        assert krita.result["backend_pid_before_quit"] == pid
        for _ in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.1)
        assert not pid_alive(pid), "quitting Krita must stop the backend the plugin started"
    finally:
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@gui
def test_waits_for_the_backend_that_won_the_address(
    krita_home, test_model, backend_server, tmp_path
):
    """The backend the plugin starts finds its address taken by another editor's backend
    that is still loading (exit 98): the plugin waits for that one and cleans with it."""
    image, _ = make_image(tmp_path, "rgba8")
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    backend_json(krita_home, test_model, endpoint)
    launched_log = krita_home / "sketch-cleanup" / "backend.log"
    race = fixtures.AddressRace(endpoint, launched_log, test_model, tmp_path / "winner.log")
    with race:
        scenario = {"image": str(image), "runs": [{"name": "race", "expect": "ok"}]}
        krita = run_krita(krita_home, scenario, timeout=180)
    assert race.error is None, race.error
    assert krita.returncode == 0, krita.describe()
    run = krita.run("race")
    assert run["boxes"] == [], run["boxes"]
    labels = run["progress_labels"]
    assert "Waiting for the Sketch Cleanup backend another program started…" in labels, labels
    assert not run["outcome"][0]["started_backend"]
    sketch = sketch_pixels(run, krita, "bgra8")
    h, w = CANVAS
    expected = reference(backend_server["endpoint"], sketch, (0, 0, w, h), "bgra8", DEFAULT_OPTIONS)
    assert_clean_layer(run, krita, "bgra8", expected, (0, 0, w, h))


@gui
def test_backend_dies_mid_job(krita_home, test_model, tmp_path):
    image, _ = make_image(tmp_path, "rgba8", BIG)
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    backend_json(krita_home, test_model, endpoint)
    scenario = {
        "image": str(image),
        "runs": [{"name": "dies", "expect": "error", "kill_backend": True}],
    }
    krita = run_krita(krita_home, scenario, timeout=180)
    assert krita.returncode == 0, krita.describe()
    run = krita.run("dies")
    assert run.get("killed"), "the harness killed the backend while the job ran"
    assert len(run["boxes"]) == 1, run["boxes"]
    box = run["boxes"][0]
    assert "while cleaning “Sketch”; nothing was changed" in box["text"], box
    assert "crashed" in box["text"] or "exited" in box["text"]
    assert "Backend log" in box["details"]
    assert_untouched(run, krita)


@gui
def test_too_large_then_a_selection(krita_home, test_model, tmp_path):
    """A layer beyond the backend's limits gets the backend's reason and a way out; a
    selection within them then works (with an auto-started backend that allows 256 px)."""
    image, _ = make_image(tmp_path, "rgba8")
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    backend_json(krita_home, test_model, endpoint, "--max-side", "256")
    scenario = {
        "image": str(image),
        "runs": [
            {"name": "large", "expect": "error"},
            {"name": "part", "expect": "ok", "selection": [[10, 20, 256, 200]]},
        ],
        "quit": "normal",
    }
    krita = run_krita(krita_home, scenario, timeout=180)
    assert krita.result is not None and krita.result["code"] == 0, krita.describe()
    large = krita.run("large")
    assert len(large["boxes"]) == 1, large["boxes"]
    text = large["boxes"][0]["text"]
    assert "The backend could not clean “Sketch”" in text and "256 px a side" in text, text
    assert "[too_large]" in text and "Select a smaller area" in text
    assert_untouched(large, krita)
    part = krita.run("part")
    assert part["outcome"][0]["outcome"] == "ok" and part["above"] == "Clean Sketch"
    assert part["result_bounds"][0] >= 10 and part["result_bounds"][2] <= 256
    pid = part["outcome"][0]["backend_pid"]
    alive = pid_alive(pid)
    if alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "the backend the plugin started must end with Krita"


@gui
def test_cancel_then_clean_again(krita_home, backend_server, tmp_path):
    image, _ = make_image(tmp_path, "rgba8", BIG)
    edit_kritarc(krita_home, "sketch_cleanup", {"server": backend_server["endpoint"]})
    scenario = {
        "image": str(image),
        "runs": [
            {"name": "cancel", "expect": "cancelled", "cancel": True},
            {"name": "again", "expect": "ok", "selection": [[100, 100, 300, 200]]},
        ],
    }
    krita = run_krita(krita_home, scenario)
    assert krita.returncode == 0, krita.describe()
    cancel = krita.run("cancel")
    assert cancel.get("cancel_clicked") and cancel["boxes"] == []
    assert cancel["seconds"] < 2.0, "cancel returns at once, not when the job would end"
    assert cancel["max_gap"] < 1.5, "reading a 2400×1800 layer must not freeze Krita for long"
    assert_untouched(cancel, krita)
    again = krita.run("again")
    assert again["outcome"][0]["outcome"] == "ok" and again["above"] == "Clean Sketch"
    assert_source_kept(again, krita)


@gui
def test_refuses_what_it_cannot_clean(krita_home, backend_server, tmp_path):
    image, _ = make_image(tmp_path, "rgba8")
    edit_kritarc(krita_home, "sketch_cleanup", {"server": backend_server["endpoint"]})
    scenario = {
        "image": str(image),
        "extra_layers": ["group", "empty", "vector"],
        "runs": [
            {"name": "group", "target": "Group", "expect": "refused"},
            {"name": "empty", "target": "Empty", "expect": "refused"},
            {"name": "vector", "target": "Vector", "expect": "refused"},
            {"name": "cmyk", "expect": "refused", "convert": ["CMYKA", "U8", ""]},
        ],
    }
    krita = run_krita(krita_home, scenario)
    assert krita.returncode == 0, krita.describe()
    expected = {
        "group": "“Group” is a group layer: Clean Sketch works on paint layers only.",
        "empty": "“Empty” is empty (fully transparent): nothing to clean.",
        "vector": "“Vector” is a vector layer: Clean Sketch works on paint layers only.",
        "cmyk": "Sketch Cleanup works on RGB and grayscale layers only",
    }
    for name, text in expected.items():
        run = krita.run(name)
        assert len(run["boxes"]) == 1 and text in run["boxes"][0]["text"], (name, run["boxes"])
        assert names(run["layers_after"]) == names(run["layers_before"])
        assert_source_kept(run, krita)


@gui
def test_vector_output_adds_a_vector_layer_in_place(krita_home, backend_server, tmp_path):
    """Vector output: a vector layer of editable shapes right above the sketch, where the
    selection was, drawing the same lines as the raster result; one Undo removes it."""
    from trainer.line_metrics import tolerant_scores

    image, _ = make_image(tmp_path, "rgba8")
    settings = {"server": backend_server["endpoint"], "vector": "centreline"}
    edit_kritarc(krita_home, "sketch_cleanup", settings)
    box = (60, 40, 260, 200)
    run_ = {"name": "vector", "expect": "ok", "selection": [list(box)], "undo": True}
    krita = run_krita(krita_home, {"image": str(image), "runs": [run_]})
    assert krita.returncode == 0, krita.describe()
    run = krita.run("vector")
    assert run["above"] == "Clean Sketch (vector)", run["layers_after"]
    assert run["vector_shapes"] > 5, run
    assert_source_kept(run, krita)
    x, y, rw, rh = box
    sketch = sketch_pixels(run, krita, "bgra8")
    expected = reference(backend_server["endpoint"], sketch, box, "bgra8", DEFAULT_OPTIONS)
    w, h = run["canvas"]
    lines = np.zeros((h, w), bool)
    lines[y : y + rh, x : x + rw] = expected[..., 3] >= 128
    drawn = decode(krita.raw("vector-vector.raw"), "bgra8", w, h)[..., 3] >= 128
    assert not drawn[:, : x - 3].any() and not drawn[: y - 3].any(), "shapes outside the box"
    scores = tolerant_scores(drawn, lines, 1.0 / max(h, w))
    assert scores["f1"] >= 0.9, scores
    assert names(run["layers_after_undo"]) == names(run["layers_before"])


@gui
def test_presets_and_diagnostics_in_the_options_dialog(krita_home, backend_server, tmp_path):
    """A look saved as a named preset comes back when chosen (after other changes), survives
    in kritarc, and "Copy diagnostics" puts a bug-report text on the clipboard."""
    image, _ = make_image(tmp_path, "rgba8")
    edit_kritarc(krita_home, "sketch_cleanup", {"server": backend_server["endpoint"]})
    inked = {"style": "white", "line_color": "#2040c0", "line_weight": "custom", "line_width": 2.5}
    runs = [
        {
            "name": "save",
            "expect": "ok",
            "options_dialog": inked,
            "options_dialog_actions": ["save_preset:Inked", "copy_diagnostics"],
        },
        {
            "name": "recall",
            "expect": "ok",
            "options_dialog": {"style": "soft", "line_weight": "model"},
            "options_dialog_preset": "Inked",
        },
    ]
    krita = run_krita(krita_home, {"image": str(image), "runs": runs, "quit": "normal"})
    assert krita.result is not None and krita.result["code"] == 0, krita.describe()
    text = krita.run("save")["clipboard"]
    assert text.startswith("Sketch Cleanup ") and "— Krita plugin\nEditor: Krita 5" in text, text
    assert f"Address: {backend_server['endpoint']} (set in the dialog)" in text
    assert '"device":' in text and '"limits":' in text, text
    recall = krita.run("recall")
    assert recall["settings_after_dialog"] == {"style": "white", "line_weight": "custom"}
    kritarc = (krita_home / ".config" / "kritarc").read_text()
    assert "presets=" in kritarc and "Inked" in kritarc


@gui
def test_live_preview_equals_the_crop_of_the_result(krita_home, backend_server, tmp_path):
    """The options dialog previews a 512² region of a tiled canvas; the Clean Sketch that
    follows puts exactly those pixels there (a fixed threshold: exact by construction)."""
    image, _ = make_image(tmp_path, "rgba8", BIG)
    edit_kritarc(krita_home, "sketch_cleanup", {"server": backend_server["endpoint"]})
    run_ = {
        "name": "preview",
        "expect": "ok",
        "options_dialog": {"threshold": "fixed", "threshold_level": 0.5},
        "wait_preview": True,
    }
    krita = run_krita(krita_home, {"image": str(image), "runs": [run_]}, timeout=240)
    assert krita.returncode == 0, krita.describe()
    run = krita.run("preview")
    header = run["preview_header"]
    assert header["exact"] is True and header["format"] == "rgba8", header
    rx, ry, rw, rh = header["region"]
    assert (rw, rh) == (512, 512), header
    assert run["preview_status"] == "Preview: 512×512 px", run["preview_status"]
    preview = np.frombuffer(krita.raw("preview-preview.raw"), np.uint8).reshape(rh, rw, 4)
    h, w = BIG
    result = decode(krita.raw("preview-result.raw"), "bgra8", w, h)
    crop = result[ry : ry + rh, rx : rx + rw][..., [2, 1, 0, 3]]  # BGRA layer → RGBA
    assert crop[..., 3].any(), "the region has lines"
    np.testing.assert_array_equal(preview, crop)


@gui
def test_choosing_a_model_changes_the_result_and_the_card(krita_home, models_server, tmp_path):
    """The dialog offers the backend's models once its preview connects, shows the chosen
    one's card, and Clean Sketch runs that model (its result differs from the default's)."""
    image, _ = make_image(tmp_path, "rgba8")
    edit_kritarc(krita_home, "sketch_cleanup", {"server": models_server["endpoint"]})
    run_ = {
        "name": "unet",
        "expect": "ok",
        "options_dialog": {"model": "small-unet"},
        "wait_preview": True,
    }
    krita = run_krita(krita_home, {"image": str(image), "runs": [run_]})
    assert krita.returncode == 0, krita.describe()
    run = krita.run("unet")
    assert {"pencil", "small-unet"} <= set(run["models_offered"]), run["models_offered"]
    shown, details = run["model_card"]  # the card's first line, and all of it on hover
    assert shown.startswith("small-unet-test-model") and "a random U-Net" in details
    assert run["outcome"][0]["model"] == "small-unet"
    sketch = sketch_pixels(run, krita, "bgra8")
    h, w = CANVAS
    endpoint = models_server["endpoint"]
    unet = reference(endpoint, sketch, (0, 0, w, h), "bgra8", {"model": "small-unet"})
    pencil = reference(endpoint, sketch, (0, 0, w, h), "bgra8", {})
    assert not np.array_equal(unet, pencil), "the two models must clean differently"
    assert_clean_layer(run, krita, "bgra8", unet, (0, 0, w, h))


# ---------------------------------------------------------------- animation

KEYFRAMES = "sketch_cleanup_clean_keyframes"
TIMES = (0, 3, 7, 9, 12)  # 9 repeats 3's drawing; 12 is an empty keyframe
DRAWN = (0, 3, 7)


def animated_scenario(folder: Path, shape=CANVAS) -> tuple[dict, dict]:
    """A scenario whose sketch layer has keyframes at TIMES: at DRAWN a different drawing
    each, with a different stroke width (so `auto` would measure each differently), at 9
    the drawing of 3 again, at 12 nothing; the document then sits at frame 2. Returns
    (scenario, {time: gray drawing})."""
    image, gray = make_image(folder, "rgba8", shape)
    drawings = {0: gray, 3: fixtures.drawing(*shape, seed=5, width_px=7)}
    drawings[7] = fixtures.drawing(*shape, seed=9, width_px=2)
    keyframes = {}
    for time_ in TIMES:
        drawing = drawings.get(3 if time_ == 9 else time_)
        if drawing is None:
            raw = bytes(shape[0] * shape[1] * 4)
        else:
            opaque = np.full_like(drawing, 255)
            raw = np.dstack([blue_of(drawing), drawing, drawing, opaque]).tobytes()
        path = folder / f"frame-{time_}.raw"
        path.write_bytes(raw)
        keyframes[str(time_)] = str(path)
    return {"image": str(image), "keyframes": keyframes, "time_after_setup": 2}, drawings


def without_time_switches(history: list[str]) -> list[str]:
    """Krita's undo history less the time switches at its end (consecutive ones merge)."""
    history = list(history)
    while history and history[-1] == "Switch current time":
        history.pop()
    return history


def frame_pixels(run: dict, krita, kind: str, time_: int) -> np.ndarray:
    w, h = run["canvas"]
    return decode(krita.raw(f"{run['name']}-{kind}-{time_}.raw"), "bgra8", w, h)


def assert_frames_kept(run: dict, krita) -> None:
    """The sketch's keyframes and every frame's bytes as before, the document's time too."""
    assert run["sketch_frames_unchanged"], krita.describe()
    assert run["sketch_keyframes_before"] == run["sketch_keyframes_after"] == list(TIMES)
    for time_ in TIMES:
        before = krita.raw(f"{run['name']}-sketch-before-{time_}.raw")
        assert before == krita.raw(f"{run['name']}-sketch-after-{time_}.raw")
    assert run["time_before"] == run["time_after"] == 2


def assert_clip_layer(run: dict, krita, endpoint: str, rect, options: dict) -> dict:
    """The new layer right above the sketch, animated at exactly the sketch's keyframes:
    the first drawing cleaned with `options`, the others with the scale and line width
    its result reported, the repeated drawing's result repeated, the empty keyframe
    empty, nothing outside `rect`; the sketch kept. Returns the measured header."""
    record = run["outcome"][0]
    assert record["outcome"] == "ok" and run["boxes"] == [], krita.describe()
    assert record["times"] == list(TIMES) and record["measured_at"] == 0
    assert record["frames"] == {"clean": 3, "blank": 1, "copy": 1}
    before, after = names(run["layers_before"]), names(run["layers_after"])
    index = before.index("Sketch")
    assert after == before[: index + 1] + ["Clean Sketch"] + before[index + 1 :], after
    assert run["result_animated"] and run["result_keyframes"] == list(TIMES)
    assert_frames_kept(run, krita)

    x, y, w, h = rect
    results = {t: frame_pixels(run, krita, "result", t) for t in TIMES}
    inside = np.zeros(CANVAS, bool)
    inside[y : y + h, x : x + w] = True
    for time_, result in results.items():
        assert not result[~inside].any(), f"frame {time_} has pixels outside {rect}"
    sketch = {t: frame_pixels(run, krita, "sketch-before", t) for t in DRAWN}
    measured, expected = backend_result(endpoint, sketch[0], rect, "bgra8", options)
    assert (record["scale"], record["line_width"]) == (measured["scale"], measured["line_width"])
    np.testing.assert_array_equal(results[0][y : y + h, x : x + w], expected)
    fixed = {**options, "scale": measured["scale"], "line_width": measured["line_width"]}
    for time_ in DRAWN[1:]:
        expected = reference(endpoint, sketch[time_], rect, "bgra8", fixed)
        np.testing.assert_array_equal(results[time_][y : y + h, x : x + w], expected)
        assert results[time_][..., 3].any(), f"no lines at frame {time_}"
    np.testing.assert_array_equal(results[9], results[3])
    assert not results[12].any(), "an empty keyframe stays empty"
    return measured


@gui
def test_clean_all_keyframes(krita_home, backend_server, tmp_path):
    """Filter ▸ Clean Sketch: All Keyframes: a new animated layer right above the sketch,
    every keyframe cleaned at the scale and line width measured on the first; one Undo
    removes it all; with a selection only its box is cleaned on every frame. A layer that
    is not animated is refused with a pointer to Clean Sketch."""
    scenario, drawings = animated_scenario(tmp_path)
    endpoint = backend_server["endpoint"]
    settings = {"server": endpoint, "line_weight": "auto"}  # both numbers are measured once
    edit_kritarc(krita_home, "sketch_cleanup", settings)
    box = [60, 40, 260, 200]
    scenario["extra_layers"] = ["empty"]
    scenario["runs"] = [
        {"name": "still", "target": "Empty", "action": KEYFRAMES, "expect": "refused"},
        {"name": "clip", "action": KEYFRAMES, "expect": "ok", "frames": list(TIMES), "undo": True},
        {"name": "box", "action": KEYFRAMES, "expect": "ok", "frames": list(TIMES)},
    ]
    scenario["runs"][2]["selection"] = [box]
    krita = run_krita(krita_home, scenario)
    assert krita.returncode == 0, krita.describe()
    assert krita.result["keyframes_menu_text"] == "Clean Sketch: All Keyframes"

    still = krita.run("still")
    assert len(still["boxes"]) == 1, still["boxes"]
    text = still["boxes"][0]["text"]
    assert "“Empty” is not animated" in text and "use Filter ▸ Clean Sketch" in text, text

    run = krita.run("clip")
    for time_ in DRAWN:
        check_layout(frame_pixels(run, krita, "sketch-before", time_), "bgra8", drawings[time_])
    auto = {**DEFAULT_OPTIONS, "line_width": "auto"}
    canvas = (0, 0, CANVAS[1], CANVAS[0])
    measured = assert_clip_layer(run, krita, endpoint, canvas, auto)
    for time_ in DRAWN[1:]:  # what measuring every frame anew would have done
        own, _ = backend_result(
            endpoint, frame_pixels(run, krita, "sketch-before", time_), canvas, "bgra8", auto
        )
        assert own["scale"] != measured["scale"], f"frame {time_} measures differently"
    # the harness looks every 50 ms: the quick keyframes (empty, repeated) may go unseen
    seen = {label.split(": ")[0] for label in run["progress_labels"]}
    frames = [f"Frame {i} of 5 (at frame {time_})" for i, time_ in enumerate(TIMES, 1)]
    assert set(frames[: len(DRAWN)]) <= seen <= set(frames), run["progress_labels"]
    assert run["max_gap"] < 1.0, "cleaning a clip must not freeze Krita"
    assert run["undo_history_after"][-1] == "Add Layer", run["undo_history_after"]
    assert names(run["layers_after_undo"]) == names(run["layers_before"]), (
        "one Undo removes the layer with all its frames"
    )
    assert run["sketch_keyframes_after_undo"] == list(TIMES)

    assert_clip_layer(krita.run("box"), krita, endpoint, tuple(box), auto)


@gui
def test_cancel_mid_clip_leaves_the_document_as_it_was(krita_home, backend_server, tmp_path):
    """Cancel while the second keyframe is being cleaned: no layer, the sketch's frames and
    the document's time as they were, and the only undo entry Krita gains is its merged
    time switch. A layer with masks is refused (its copy would carry them)."""
    scenario, _ = animated_scenario(tmp_path, BIG)
    edit_kritarc(krita_home, "sketch_cleanup", {"server": backend_server["endpoint"]})
    cancel = {"name": "cancel", "action": KEYFRAMES, "expect": "cancelled", "frames": list(TIMES)}
    cancel["cancel_label"] = "Frame 2 of 5"
    masked = {"name": "masked", "action": KEYFRAMES, "expect": "refused", "add_mask": True}
    scenario["runs"] = [cancel, masked]
    krita = run_krita(krita_home, scenario, timeout=180)
    assert krita.returncode == 0, krita.describe()

    run = krita.run("cancel")
    assert run.get("cancel_clicked") and run["boxes"] == [], krita.describe()
    assert any(label.startswith("Frame 1 of 5 (at frame 0): ") for label in run["progress_labels"])
    assert run["outcome"][0]["frames"]["clean"] == 1, "cancelled with the first frame written"
    assert names(run["layers_after"]) == names(run["layers_before"])
    assert_frames_kept(run, krita)
    history = [without_time_switches(run[f"undo_history_{when}"]) for when in ("before", "after")]
    assert history[0] == history[1], history
    assert run["max_gap"] < 1.5, "reading 2400×1800 keyframes must not freeze Krita for long"

    masked_run = krita.run("masked")
    assert len(masked_run["boxes"]) == 1, masked_run["boxes"]
    assert "“Sketch” has masks" in masked_run["boxes"][0]["text"]
