"""The Krita plugin: its byte helpers, settings and installer here in pytest's Python, and
the plugin itself in real GUI Krita under Xvfb against a real backend process.

The GUI tests run Krita with a test-only harness plugin (tests/editors/krita_harness) that
opens a real document, triggers the plugin's real actions, answers its real dialogs and
message boxes, and dumps layer bytes; the checks here compare those bytes with what the
backend itself returns for the same pixels and with the drawing's ink. They skip, naming the
command to run, when Krita or Xvfb is not installed (tests/provision_krita.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import install
import sketch_client
from krita_plugin import installer as krita_installer
from krita_plugin.sketch_cleanup import pixels, settings
from tests import fixtures
from tests.editors.conftest import edit_kritarc, home_env, krita_missing, run_krita

ROOT = Path(__file__).resolve().parents[2]
CANVAS = (300, 400)  # h, w of the everyday test sketch
BIG = (1800, 2400)  # takes the backend about 2 s: long enough to cancel or kill mid-job
DEFAULT_OPTIONS = sketch_client.DEFAULT_OPTIONS  # what the plugin sends when left alone
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
    import sketch_client

    x, y, w, h = rect
    crop = np.ascontiguousarray(sketch[y : y + h, x : x + w])
    with sketch_client.Client(endpoint) as client:
        header, data = client.clean(crop.tobytes(), w, h, fmt, {**options, "output_format": fmt})
    assert (header["width"], header["height"], header["format"]) == (w, h, fmt)
    return decode(data, fmt, w, h)


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
    config = {
        "command": [
            sys.executable,
            "-m",
            "backend",
            "serve",
            "--model",
            str(test_model),
            *fixtures.TEST_SERVE_OPTIONS,
            *extra,
        ],
        "env": {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"},
        "endpoint": endpoint,
    }
    (home / "sketch-cleanup" / "backend.json").write_text(json.dumps(config))


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


# ---------------------------------------------------------------- byte helpers (no Krita)


@pytest.mark.parametrize("fmt", sorted(pixels.LAYOUTS))
def test_mask_alpha_matches_numpy(fmt):
    rng = np.random.default_rng(1)
    kind, channels = FORMAT_DTYPE[fmt]
    count = 5000
    if kind in ("f16", "f32"):
        data = rng.random((count, channels)).astype(DTYPES[kind])
    else:
        top = 255 if kind == "u8" else 65535
        data = rng.integers(0, top + 1, (count, channels)).astype(DTYPES[kind])
    mask = rng.choice(
        np.array([0, 255, 1, 77, 128, 254], np.uint8), count, p=[0.4, 0.4, 0.05, 0.05, 0.05, 0.05]
    )
    out = np.frombuffer(pixels.mask_alpha(data.tobytes(), fmt, mask.tobytes()), data.dtype).reshape(
        count, channels
    )
    np.testing.assert_array_equal(out[:, :-1], data[:, :-1])  # colour is never touched
    a = data[:, -1].astype(np.float64) * mask / 255.0
    if kind in ("u8", "u16"):
        np.testing.assert_array_equal(out[:, -1], np.floor(a + 0.5).astype(data.dtype))
    else:
        np.testing.assert_allclose(out[:, -1].astype(np.float64), a, rtol=2e-3, atol=1e-6)
    assert (out[mask == 0, -1] == 0).all() and (out[mask == 255, -1] == data[mask == 255, -1]).all()


def test_visible_pixels_and_formats():
    assert not pixels.has_visible_pixels(bytes(16 * 100), "rgbaf32")
    one = bytearray(16 * 100)
    one[16 * 42 + 12 : 16 * 42 + 16] = struct.pack("<f", 0.001)
    assert pixels.has_visible_pixels(bytes(one), "rgbaf32")
    gray = bytearray(2 * 50)
    gray[0] = 255  # gray value without alpha: still invisible
    assert not pixels.has_visible_pixels(bytes(gray), "graya8")
    gray[99] = 1
    assert pixels.has_visible_pixels(bytes(gray), "graya8")
    assert pixels.format_for("RGBA", "U16") == "bgra16"
    assert pixels.format_for("GRAYA", "F32") == "grayaf32"
    with pytest.raises(pixels.Unsupported, match="CMYK"):
        pixels.format_for("CMYKA", "U8")
    with pytest.raises(pixels.Unsupported, match="16-bit float grayscale"):
        pixels.format_for("GRAYA", "F16")
    assert pixels.intersect((10, 10, 100, 50), (0, 0, 50, 200)) == (10, 10, 40, 50)
    assert pixels.intersect((10, 10, 5, 5), (100, 100, 5, 5))[2] == 0


def test_settings_round_trip_and_garbage():
    options = settings.Options(
        style="white",
        color="#12abef",
        threshold="fixed",
        level=0.3,
        scale="factor",
        factor=2.5,
        line_weight="width",
        line_width=3.5,
    )
    again = settings.Options.from_strings(options.to_strings())
    assert again == options
    assert again.request_options("bgra16") == {
        "style": "white",
        "color": "#12abef",
        "threshold": 0.3,
        "scale": 2.5,
        "line_width": 3.5,
        "output_format": "bgra16",
    }
    sketch_client.check_options(again.request_options("bgra16"), "bgra16")  # the backend's rule
    auto = settings.Options.from_strings({**options.to_strings(), "line_weight": "auto"})
    assert auto.request_options("bgra8")["line_width"] == "auto"
    broken = settings.Options.from_strings(
        {
            "style": "neon",
            "color": "red",
            "threshold": "fixed",
            "level": "7",
            "factor": "x",
            "line_weight": "bold",
            "line_width": "99",
            "autostart": "false",
        }
    )
    assert (broken.style, broken.color, broken.level, broken.factor) == (
        "transparent",
        "#000000",
        0.5,
        1.0,
    )
    assert (broken.line_weight, broken.line_width) == ("model", 2.0)
    assert broken.autostart is False
    assert settings.Options.from_strings({}).request_options("graya8") == {
        **DEFAULT_OPTIONS,
        "output_format": "graya8",
    }
    # the plugin keeps its own copies of the protocol's ranges (it runs without numpy)
    assert settings.FACTOR_RANGE == sketch_client.SCALE_RANGE
    assert settings.LINE_WIDTH_RANGE == sketch_client.LINE_WIDTH_RANGE


def test_connection_settings(tmp_path):
    assert settings.is_local("tcp://127.0.0.1:5571") and settings.is_local("tcp://localhost:1")
    assert settings.is_local("ipc:///tmp/sketch") and settings.is_local("tcp://[::1]:5571")
    assert not settings.is_local("tcp://192.168.1.20:5571")
    assert not settings.is_local("tcp://gpu-box.local:5571")
    import zmq.auth

    public_file, secret_file = zmq.auth.create_certificates(str(tmp_path), "server")
    public, _ = zmq.auth.load_certificate(public_file)
    assert settings.load_server_key(public_file) == public.decode()  # a backend keys file
    bare = tmp_path / "bare.key"
    bare.write_text(public.decode() + "\n")
    assert settings.load_server_key(str(bare)) == public.decode()
    junk = tmp_path / "junk.key"
    junk.write_text("hello")
    with pytest.raises(ValueError, match="no CURVE public key"):
        settings.load_server_key(str(junk))


def test_kritarc_editing_keeps_everything_else():
    original = (
        "[General]\nfoo=1\n\n[MainWindow][Toolbar mainToolBar]\nToolButtonStyle=IconOnly\n\n"
        "[python]\nenable_ten_brushes=true\n\n[theme]\nTheme=Krita dark\n"
    )
    enabled = krita_installer.set_ini_value(original, "python", "enable_sketch_cleanup", "true")
    assert enabled == original.replace(
        "enable_ten_brushes=true\n", "enable_ten_brushes=true\nenable_sketch_cleanup=true\n"
    )
    assert (
        krita_installer.set_ini_value(enabled, "python", "enable_sketch_cleanup", "true") == enabled
    )
    flipped = enabled.replace("enable_sketch_cleanup=true", "enable_sketch_cleanup=false")
    assert (
        krita_installer.set_ini_value(flipped, "python", "enable_sketch_cleanup", "true") == enabled
    )
    assert (
        krita_installer.set_ini_value(enabled, "python", "enable_sketch_cleanup", None) == original
    )
    fresh = krita_installer.set_ini_value(
        "[General]\nfoo=1", "python", "enable_sketch_cleanup", "true"
    )
    assert fresh == "[General]\nfoo=1\n\n[python]\nenable_sketch_cleanup=true\n"
    assert krita_installer.set_ini_value("", "python", "x", "1") == "[python]\nx=1\n"
    windows = "[python]\r\nenable_a=true\r\n"
    assert (
        krita_installer.set_ini_value(windows, "python", "b", "1")
        == "[python]\r\nenable_a=true\r\nb=1\r\n"
    )


def test_python_version_detection(tmp_path, monkeypatch):
    fake = tmp_path / "kritapykrita.so"
    fake.write_bytes(b"\x7fELF....libpython3.12.so.1.0\0more")
    assert krita_installer._libpython_version(fake) == "3.12"
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "Applications").mkdir()
    image = tmp_path / "Applications" / "krita-5.2.6-x86_64.appimage"
    image.write_bytes(b"")
    target = krita_installer._appimage_target(image)
    assert (target.python, target.kind) == ("3.10", "appimage")
    assert (
        krita_installer._appimage_target(tmp_path / "krita-5.3.0-x86_64.AppImage").python == "3.13"
    )
    monkeypatch.setenv("SKETCH_CLEANUP_KRITA_PYTHON", "3.9")
    assert {t.python for t in krita_installer.find_kritas()} == {"3.9"}


def test_installer_dry_run_idempotence_and_uninstall(installed_home, tmp_path, monkeypatch, capsys):
    """Against a copy of a HOME the real installer filled (no Krita needed): pyzmq is
    vendored for Krita's Python, a second install only refreshes the plugin, dry runs touch
    nothing, uninstall removes exactly the plugin and its kritarc line."""
    home = tmp_path / "home"
    shutil.copytree(installed_home, home, symlinks=True)
    (home / ".local" / "share" / "krita" / "pykrita" / "other_plugin").mkdir()
    for name, value in home_env(home).items():
        if name != "PATH":
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("SKETCH_CLEANUP_KRITA_PYTHON", raising=False)
    inst = install.Installer(home / "sketch-cleanup", dry_run=False)
    inst.python = Path(sys.executable)
    kritarc = home / ".config" / "kritarc"
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    assert "enable_sketch_cleanup=true" in kritarc.read_text()
    vendor = pykrita / "sketch_cleanup" / "vendor"
    assert (vendor / "zmq").is_dir()
    assert (pykrita / "sketch_cleanup" / "sketch_client.py").is_file()
    assert (pykrita / "sketch_cleanup.desktop").is_file()
    assert (home / ".local" / "share" / "krita" / "actions" / "sketch_cleanup.action").is_file()
    target = krita_installer.find_kritas()[0]
    marker = (vendor / "VENDORED_FOR").read_text()
    assert marker.startswith(f"{target.python} manylinux"), marker
    system = Path("/usr/bin/python3")
    if system.exists() and target.found:  # Krita's Python imports the vendored pyzmq
        probe = "import sys; sys.path.insert(0, sys.argv[1]); import zmq; print(zmq.zmq_version())"
        version = subprocess.run(
            [str(system), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if version == target.python:
            done = subprocess.run(
                [str(system), "-c", probe, str(vendor)], capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr

    kritarc.write_text(kritarc.read_text() + "\n[custom]\nkeep=me\n")
    before = kritarc.read_text()
    (pykrita / "sketch_cleanup" / "stale_module.py").write_text("old = True\n")
    summary = krita_installer.install(inst)
    out = capsys.readouterr().out
    assert "pyzmq already in" in out  # vendored once, kept
    assert kritarc.read_text() == before
    assert not (pykrita / "sketch_cleanup" / "stale_module.py").exists()
    assert "sketch_cleanup" in summary[0]

    dry = install.Installer(home / "sketch-cleanup", dry_run=True)
    snapshot = sorted(str(p) for p in home.rglob("*"))
    krita_installer.install(dry, uninstall=True)
    assert sorted(str(p) for p in home.rglob("*")) == snapshot
    assert "[dry run] removing" in capsys.readouterr().out

    summary = krita_installer.install(inst, uninstall=True)
    assert "removed the Sketch Cleanup plugin" in summary[0]
    assert (
        not (pykrita / "sketch_cleanup").exists()
        and not (pykrita / "sketch_cleanup.desktop").exists()
    )
    assert (pykrita / "other_plugin").exists()  # other plugins stay
    text = kritarc.read_text()
    assert "enable_sketch_cleanup=" not in text
    assert "[custom]\nkeep=me" in text
    assert "no Sketch Cleanup plugin to remove" in krita_installer.install(inst, uninstall=True)[0]


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
    edit_kritarc(krita_home, "sketch_cleanup", {"endpoint": backend_server["endpoint"]})
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
    edit_kritarc(krita_home, "sketch_cleanup", {"endpoint": backend_server["endpoint"]})
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
    edit_kritarc(krita_home, "sketch_cleanup", {"endpoint": backend_server["endpoint"]})
    chosen = {
        "style": "white",
        "color": "#c02020",
        "threshold": "fixed",
        "level": 0.4,
        "scale": "factor",
        "factor": 1.5,
        "line_weight": "width",
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
        "color": "#c02020",
        "threshold": "fixed",
        "level": "0.4",
        "scale": "factor",
        "factor": "1.5",
        "line_weight": "width",
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
    assert "style=white" in kritarc and "color=#c02020" in kritarc, "options are saved on quit"
    assert backend_server["proc"].poll() is None, "a backend the plugin did not start keeps running"


@gui
def test_no_backend_and_no_document(krita_home, tmp_path):
    """No backend listening and none installed: a clear message, nothing changed."""
    image, _ = make_image(tmp_path, "rgba8")
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    edit_kritarc(krita_home, "sketch_cleanup", {"endpoint": endpoint})
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
        cmdline = (krita_home / "sketch-cleanup" / "krita-backend.log").read_text()
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
    launched_log = krita_home / "sketch-cleanup" / "krita-backend.log"
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
    edit_kritarc(krita_home, "sketch_cleanup", {"endpoint": backend_server["endpoint"]})
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
    edit_kritarc(krita_home, "sketch_cleanup", {"endpoint": backend_server["endpoint"]})
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
