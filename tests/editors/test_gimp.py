"""The GIMP 3 plug-in, driven through real gimp-console-3.0 against a real backend.

GIMP 3 runs in a Debian trixie chroot (tests/provision_gimp.sh); it shares the host's
loopback, so the plug-in inside reaches the `backend_server` fixture on 127.0.0.1. The
plug-in is installed by gimp_plugin.installer (install.py's path) into a HOME inside the
chroot; gimp_batch/clean_cases.py then runs in gimp-console-3.0, loads real image files,
calls the real procedure through the PDB (NONINTERACTIVE, with a config) and dumps what
it got, which the tests check with numpy. Cases share GIMP sessions: `cleaned` (seven
successful cleans) and `refused` (six clean failures), plus one session each for CURVE
and vendored pyzmq. A GIMP start costs seconds, so this keeps the file near 2 minutes.

What needs no GIMP is tested in tests/gimp_plugin/ and tests/kit/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.morphology import skeletonize

from gimp_plugin import installer as gimp_installer
from tests.gimp_plugin.test_installer import _installer
from tests.support import fixtures

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = ROOT / "gimp_plugin" / "sketch-cleanup"
BATCH = Path(__file__).resolve().parent / "gimp_batch" / "clean_cases.py"

DEFAULT_CHROOT = "/var/cache/sketch-cleanup/gimp-trixie"
CHROOT = Path(os.environ.get("SKETCH_GIMP_CHROOT", DEFAULT_CHROOT))
PROVISION = ("" if CHROOT == Path(DEFAULT_CHROOT) else f"SKETCH_GIMP_CHROOT={CHROOT} ") + (
    "bash tests/provision_gimp.sh"
)
GIMP_TIMEOUT = 150  # s for one gimp-console run (first start in a fresh HOME about 6 s)


def _gimp_missing() -> str | None:
    if not (CHROOT / ".sketch-cleanup-provisioned").exists():
        return f"GIMP 3 chroot missing at {CHROOT}: provision it with `sudo {PROVISION}`"
    if os.geteuid() != 0:
        return "driving GIMP 3 in its chroot needs root (chroot)"
    return None


editors = pytest.mark.editors  # the tests that start real GIMP 3


# ---------------------------------------------------------------- helpers


def _ink(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(line cores, far-from-any-stroke paper) of a fixtures.drawing() sketch.

    The outer 4 px do not count as paper: the test model's zero-padded convolutions see
    ink beyond the image edge, so the backend may draw a line along the border.
    """
    core = gray < 70
    near = cv2.dilate((gray < 180).astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
    paper = ~near
    paper[:4], paper[-4:], paper[:, :4], paper[:, -4:] = False, False, False, False
    return core, paper


def _check_lines(rgba: np.ndarray, gray: np.ndarray, where: np.ndarray | None = None) -> None:
    """Transparent style: dark opaque lines on the ink, nothing on clean paper."""
    core, paper = _ink(gray)
    if where is not None:
        core, paper = core & where, paper & where
    assert core.sum() > 200 and paper.sum() > 2000, "test drawing too small to judge"
    alpha = rgba[..., 3]
    on_ink = (alpha[core] > 128).mean()
    assert on_ink > 0.9, f"only {on_ink:.0%} of the line cores became line"
    assert (alpha[paper] == 0).all(), "the clean layer has marks on empty paper"
    dark = rgba[..., :3][core & (alpha > 128)]
    assert dark.max() < 80, f"lines should be black, got up to {dark.max()}"


def _free_port() -> int:
    return fixtures.free_port()


class GimpRunner:
    """Runs gimp_batch/clean_cases.py in gimp-console-3.0 inside the chroot.

    One GIMP start serves several cases (a start costs seconds on a 2-core machine);
    each case loads its own image file and writes its own result.
    """

    def __init__(self, base: Path):
        self.base = base  # inside the chroot
        self.home = base / "home"

    @staticmethod
    def inside(path: Path) -> str:
        return "/" + str(Path(path).relative_to(CHROOT))

    @property
    def plugin_dir(self) -> Path:
        return self.home / ".config" / "GIMP" / "3.0" / "plug-ins" / "sketch-cleanup"

    def install(self, tmp_path: Path, pyzmq: str = "auto") -> list[str]:
        """The real installer, into this HOME (GIMP3_DIRECTORY) for the chroot's Python."""
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GIMP3_DIRECTORY", str(self.home / ".config" / "GIMP" / "3.0"))
            python = ["chroot", str(CHROOT), "/usr/bin/python3"]
            lines = gimp_installer.install(_installer(tmp_path), python=python, pyzmq=pyzmq)
        assert os.access(self.plugin_dir / "sketch-cleanup.py", os.X_OK)
        return lines

    def run(
        self,
        cases: dict[str, tuple[np.ndarray, dict]],
        data_home: Path | None = None,
        gui: dict[str, str] | None = None,
    ):
        """{case name: (image, case spec)} -> {case name: result}. gui: run GUI GIMP
        (gimp-3.0) instead of gimp-console-3.0, with these extra environment variables
        (DISPLAY at least)."""
        work = self.base / f"run-{uuid.uuid4().hex[:8]}"
        work.mkdir(parents=True)
        shutil.copy(BATCH, work / "clean_cases.py")
        data_home = data_home or (work / "no-backend-installed")
        data_home.mkdir(exist_ok=True)
        specs = []
        for name, (image, case) in cases.items():
            (work / name).mkdir()
            cv2.imwrite(str(work / name / "input.png"), image)
            specs.append(
                {
                    "image": self.inside(work / name / "input.png"),
                    "out_dir": self.inside(work / name),
                    **case,
                }
            )
        (work / "spec.json").write_text(json.dumps({"cases": specs, "out_dir": self.inside(work)}))
        code = (
            f"SPEC = {self.inside(work / 'spec.json')!r}; "
            f"exec(open({self.inside(work / 'clean_cases.py')!r}).read())"
        )
        gimp = ["gimp-console-3.0", "-i"]
        if gui is not None:
            gimp = [*(f"{k}={v}" for k, v in gui.items()), "gimp-3.0", "--no-splash"]
        command = [
            "chroot", str(CHROOT), "env", "-i",
            f"HOME={self.inside(self.home)}", "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
            f"SKETCH_CLEANUP_HOME={self.inside(data_home)}",
            *gimp, "--batch-interpreter", "python-fu-eval", "-b", code, "--quit",
        ]  # fmt: skip
        log = work / "gimp.log"
        timeout = GIMP_TIMEOUT + 20 * len(cases)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                pytest.fail(f"gimp-console-3.0 ran over {timeout} s:\n{_tail(log)}")
        if not (work / "done.json").exists():
            pytest.fail(f"GIMP did not finish its cases (exit {proc.returncode}):\n{_tail(log)}")
        results = {}
        for name in cases:
            result = json.loads((work / name / "result.json").read_text())
            result.update(work=work / name, log=_tail(log))
            results[name] = result
        return results

    @staticmethod
    def pixels(result: dict, kind: str = "u8") -> np.ndarray:
        w, h = result["new_layer"]["size"]
        dtype = {"u8": np.uint8, "u16": np.uint16, "float": np.float32}[kind]
        data = (result["work"] / result["dumps"][kind]).read_bytes()
        return np.frombuffer(data, dtype).reshape(h, w, 4)


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _ran(result: dict) -> dict:
    assert result["ok"], result.get("error", "") + "\n" + result["log"]
    assert result["procedure_found"], "GIMP did not register the plug-in\n" + result["log"]
    return result


def _succeeded(result: dict) -> dict:
    _ran(result)
    assert result["status"] == "success", f"{result['message']}\n{result['log']}"
    assert result["source_unchanged"], "the source layer was modified"
    names = [layer["name"] for layer in result["layers"]]
    assert names.count("Clean Sketch") == 1 and len(names) == len(result["layers_before"]) + 1
    assert result["new_position"] == result["source_position"] - 1, "not directly above"
    return result["new_layer"]


def _refused(result: dict, *phrases: str) -> None:
    _ran(result)
    assert result["status"] == "execution-error", result["status"]
    for phrase in phrases:
        assert phrase in result["message"], result["message"]
    assert result["layers"] == result["layers_before"], "a refused run changed the layers"
    assert result["source_unchanged"]


@pytest.fixture(scope="module")
def gimp():
    reason = _gimp_missing()
    if reason:
        pytest.skip(reason)
    base = CHROOT / "tmp" / "sketch-cleanup-tests"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    yield GimpRunner(base)
    shutil.rmtree(base, ignore_errors=True)


def _bgr(gray: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


DRAWINGS = {  # case name -> the sketch it cleans (gray, uint8)
    "rgb8": fixtures.drawing(240, 320, seed=1),
    "rgba8-offset": fixtures.drawing(240, 320, seed=2),
    "white-red": fixtures.drawing(200, 260, seed=3),
    "u16": fixtures.drawing(200, 260, seed=4),
    "float": fixtures.drawing(200, 260, seed=5),
    "gray": fixtures.drawing(220, 300, seed=6),
    "selection": fixtures.drawing(300, 400, seed=7),
    "vector": fixtures.drawing(200, 260, seed=8),
}
SELECTION = (60, 40, 260, 200)  # x, y, w, h in the drawing
CANVAS = (10, 20)  # the selection case's layer offsets


@pytest.fixture(scope="module")
def cleaned(gimp, backend_server, tmp_path_factory):
    """One GIMP session: the plug-in installed by the installer cleans seven images."""
    lines = gimp.install(tmp_path_factory.mktemp("install"))
    server = {"server": backend_server["endpoint"]}
    d = DRAWINGS
    deep = d["u16"].astype(np.uint16) * 257
    deep += np.random.default_rng(0).integers(0, 200, deep.shape).astype(np.uint16)
    x, y, w, h = SELECTION
    cases = {
        "rgb8": (_bgr(d["rgb8"]), {"config": server}),
        "rgba8-offset": (
            cv2.cvtColor(d["rgba8-offset"], cv2.COLOR_GRAY2BGRA),
            {"config": server, "canvas_offset": [24, 16], "add_top_layer": True},
        ),
        "white-red": (
            _bgr(d["white-red"]),
            {
                "config": {
                    **server,
                    "style": "white",
                    "line-color": "#ff0000",
                    "line-weight": "custom",
                    "line-width": 3.0,
                }
            },
        ),
        "u16": (  # soft alpha (threshold none) shows whether 16 bits came back
            cv2.cvtColor(deep, cv2.COLOR_GRAY2BGR),
            {"config": {**server, "threshold": "none"}, "dump_deep": True},
        ),
        "float": (
            _bgr(d["float"]),
            {
                "config": {**server, "threshold": "none"},
                "precision": "FLOAT_LINEAR",
                "dump_deep": True,
            },
        ),
        "gray": (d["gray"], {"config": server}),
        "diagnostics": (d["gray"], {"diagnostics": True, "config": server}),
        "vector": (
            _bgr(d["vector"]),
            {"config": {**server, "vector": "centreline"}, "canvas_offset": [30, 12]},
        ),
        "selection": (
            _bgr(d["selection"]),
            {
                "config": server,
                "canvas_offset": list(CANVAS),
                "selection": {"shape": "ellipse", "rect": [x + CANVAS[0], y + CANVAS[1], w, h]},
            },
        ),
    }
    return lines, gimp.run(cases)


@editors
def test_gimp_installer_uses_the_chroot_pythons_pyzmq(cleaned):
    lines, _ = cleaned
    assert "pyzmq" in lines[0] and "of GIMP's Python 3." in lines[0], lines


@editors
@pytest.mark.parametrize("name", ["rgb8", "rgba8-offset"])
def test_gimp_cleans_an_8bit_layer(cleaned, name):
    result = cleaned[1][name]
    layer = _succeeded(result)
    assert result["precision"] == result["precision_after"] == "u8-non-linear"
    offsets = [24, 16] if name == "rgba8-offset" else [0, 0]
    assert layer["offsets"] == result["source_offsets"] == offsets
    assert layer["size"] == [320, 240] and layer["bpp"] == 4
    if name == "rgba8-offset":  # the new layer goes right above its source, not on top
        assert [x["name"] for x in result["layers"]] == ["top", "Clean Sketch", "sketch"]
    _check_lines(GimpRunner.pixels(result), DRAWINGS[name])


@editors
def test_gimp_white_style_and_line_colour(cleaned):
    result = cleaned[1]["white-red"]
    _succeeded(result)
    rgba = GimpRunner.pixels(result).astype(int)
    core, paper = _ink(DRAWINGS["white-red"])
    assert (rgba[..., 3] == 255).all(), "white style is opaque"
    red = (rgba[..., 0] > 200) & (rgba[..., 1] < 80) & (rgba[..., 2] < 80)
    inked = (rgba[..., :3] < 240).any(axis=-1)
    assert red[inked].mean() > 0.95, "lines should be the chosen red, two-tone on white"
    # line-width 3: thin even lines along the strokes' centres, not the strokes' full width
    centres = skeletonize(core)
    assert inked[centres].mean() > 0.9, "the 3 px lines should run along the strokes"
    assert inked.sum() < core.sum() * 1.2
    assert (rgba[paper][:, :3] > 240).all(), "paper should be white"


@editors
def test_gimp_16bit_image_keeps_its_depth(cleaned):
    result = cleaned[1]["u16"]
    layer = _succeeded(result)
    assert result["precision"] == result["precision_after"] == "u16-non-linear"
    assert layer["bpp"] == 8  # R'G'B'A u16
    alpha16 = GimpRunner.pixels(result, "u16")[..., 3]
    core, paper = _ink(DRAWINGS["u16"])
    assert (alpha16[core] > 32768).mean() > 0.9
    assert (alpha16[paper] < 2000).mean() > 0.99
    between = alpha16[(alpha16 > 0) & (alpha16 < 65535)]
    assert (between % 257 != 0).sum() > 50, "soft alpha came back with only 8 bits"


@editors
def test_gimp_float_image_keeps_its_depth(cleaned):
    result = cleaned[1]["float"]
    layer = _succeeded(result)
    assert result["precision"] == result["precision_after"] == "float-linear"
    assert layer["bpp"] == 16  # RGBA float
    alpha = GimpRunner.pixels(result, "float")[..., 3]
    core, paper = _ink(DRAWINGS["float"])
    assert (alpha[core] > 0.5).mean() > 0.9 and (alpha[paper] < 0.03).mean() > 0.99
    soft = alpha[(alpha > 0.01) & (alpha < 0.99)]
    assert (np.abs(soft * 255 - np.round(soft * 255)) > 0.05).sum() > 50, "float came back 8-bit"


@editors
def test_gimp_grayscale_image(cleaned):
    result = cleaned[1]["gray"]
    layer = _succeeded(result)
    assert result["base_type"] == "gray"
    assert layer["bpp"] == 2 and layer["has_alpha"]  # Y'A u8: a gray layer, not RGB
    rgba = GimpRunner.pixels(result)
    assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 1] == rgba[..., 2]).all()
    _check_lines(rgba, DRAWINGS["gray"])


@editors
def test_gimp_selection_cleans_only_inside_it(cleaned):
    result = cleaned[1]["selection"]
    layer = _succeeded(result)
    x, y, w, h = SELECTION
    assert layer["offsets"] == [x + CANVAS[0], y + CANVAS[1]] and layer["size"] == [w, h]
    rgba = GimpRunner.pixels(result)
    yy, xx = np.mgrid[0:h, 0:w]
    ellipse = ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2
    inside, outside = ellipse < 0.9, ellipse > 1.1
    region = DRAWINGS["selection"][y : y + h, x : x + w]
    _check_lines(rgba, region, where=inside)
    assert (rgba[..., 3][outside] == 0).all(), "lines outside the selection"
    assert (region[outside] < 70).sum() > 50, "test needs ink outside the ellipse"


@editors
def test_gimp_vector_output_imports_the_lines_as_paths(cleaned):
    """Vector output: the raster layer as always, plus one path "Clean Sketch" whose strokes
    lie on the layer's lines, where the layer sits on the canvas."""
    result = cleaned[1]["vector"]
    layer = _succeeded(result)
    (path,) = result["paths"]
    assert path["name"] == "Clean Sketch" and path["strokes"] >= 4, path["strokes"]  # 4 lines
    d = " ".join(re.findall(r'\sd="([^"]+)"', path["svg"]))
    xy = np.array(re.findall(r"(-?[\d.]+)[ ,](-?[\d.]+)", d), float)
    alpha = GimpRunner.pixels(result)[..., 3] >= 128
    ys, xs = np.nonzero(alpha)
    ox, oy = layer["offsets"]
    assert (ox, oy) == (30, 12)
    lines_box = np.array([xs.min() + ox, ys.min() + oy, xs.max() + ox, ys.max() + oy])
    path_box = np.array([*xy.min(axis=0), *xy.max(axis=0)])
    # centres lie half a stroke inside the lines' extent, Bézier handles near the curve
    assert np.abs(path_box - lines_box).max() <= 6, (path_box, lines_box)
    far = cv2.distanceTransform((~alpha).astype(np.uint8), cv2.DIST_L2, 5)
    px = np.clip(np.round(xy - (ox, oy)).astype(int), 0, [alpha.shape[1] - 1, alpha.shape[0] - 1])
    on_lines = far[px[:, 1], px[:, 0]] <= 3
    assert on_lines.mean() >= 0.9, f"only {on_lines.mean():.0%} of the path points are on lines"
    others = [r for name, r in cleaned[1].items() if name != "vector" and "paths" in r]
    assert others and all(r["paths"] == [] for r in others), "no paths without the option"


@editors
def test_gimp_diagnostics_procedure_returns_the_report(cleaned, backend_server):
    """Filters ▸ Artistic ▸ Clean Sketch Diagnostics…, run as a script: the bug-report text,
    with GIMP's version and the backend's own answer."""
    result = cleaned[1]["diagnostics"]
    assert result["ok"] and result["status"] == "success", result
    text = result["text"]
    assert text.startswith("Sketch Cleanup ") and "— GIMP plug-in\nEditor: GIMP 3." in text, text
    assert f"Address: {backend_server['endpoint']} (set in the dialog)" in text
    assert '"device":' in text and "Last lines of" in text


@pytest.fixture(scope="module")
def refused(gimp, tmp_path_factory):
    """One GIMP session of runs that must fail cleanly. Its SKETCH_CLEANUP_HOME holds a
    backend.json whose command dies at once, as a broken install would."""
    gimp.install(tmp_path_factory.mktemp("install"))
    data_home = gimp.base / "broken-install"
    data_home.mkdir()
    installed = f"tcp://127.0.0.1:{_free_port()}"
    config = {
        "command": ["/usr/bin/python3", "-c", "import sys; print('model missing'); sys.exit(3)"],
        "endpoint": installed,
    }
    (data_home / "backend.json").write_text(json.dumps(config))
    down = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens, not the installed one
    image = _bgr(fixtures.drawing(120, 160, seed=10))
    cases = {
        "down": (image, {"config": {"server": down, "autostart": False}}),
        "cannot-start": (image, {}),  # server "": the installed backend, started on demand
        "group": (image, {"group": True}),
        "empty": (image, {"empty_layer": True}),
        "mask": (image, {"layer_mask": True}),
        "indexed": (image, {"indexed": True}),
    }
    return down, gimp.run(cases, data_home)


@editors
def test_gimp_backend_down_changes_nothing(refused):
    down, results = refused
    _refused(
        results["down"], f"No Sketch Cleanup backend answers at {down}", "sketch-cleanup serve"
    )


@editors
def test_gimp_backend_that_cannot_start_is_reported(refused):
    """No backend answers at the installed address: the plug-in starts the installed
    command, which dies, and says why."""
    _refused(refused[1]["cannot-start"], "exited with code 3 while starting", "model missing")


@editors
def test_gimp_refuses_groups_empty_layers_masks_and_indexed_images(refused):
    results = refused[1]
    _refused(results["group"], "“sketch group” is a layer group", "Merge Layer Group")
    _refused(results["empty"], "“empty” is empty (fully transparent)")
    _refused(results["mask"], "A layer mask is active")
    assert results["indexed"]["base_type"] == "indexed"
    _refused(results["indexed"], "Indexed images cannot hold", "Image ▸ Mode")


@editors
def test_gimp_curve_backend_with_server_key_file(gimp, curve_backend, tmp_path):
    gimp.install(tmp_path)
    key_file = gimp.base / "server.key"
    shutil.copy(curve_backend["public"], key_file)
    gray = fixtures.drawing(160, 200, seed=12)
    config = {"server": curve_backend["endpoint"], "server-key-file": gimp.inside(key_file)}
    result = gimp.run({"curve": (_bgr(gray), {"config": config})})["curve"]
    _succeeded(result)
    _check_lines(GimpRunner.pixels(result), gray)


@editors
def test_gimp_with_vendored_pyzmq(gimp, backend_server, tmp_path):
    """The route for GIMPs whose Python lacks pyzmq: a wheel for the chroot's Python 3.13,
    fetched by pip, in the plug-in's vendor/ folder, imported first by the plug-in."""
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError as exc:
        pytest.skip(f"PyPI is not reachable, so pip cannot fetch a pyzmq wheel: {exc}")
    lines = gimp.install(tmp_path, pyzmq="vendor")
    vendor = gimp.plugin_dir / "vendor"
    try:
        assert "vendored for Python 3.13" in lines[0] and (vendor / "zmq").is_dir()
        gray = fixtures.drawing(160, 200, seed=11)
        config = {"config": {"server": backend_server["endpoint"]}}
        result = gimp.run({"vendored": (_bgr(gray), config)})["vendored"]
        _succeeded(result)
        _check_lines(GimpRunner.pixels(result), gray)
        compiled = list((vendor / "zmq" / "__pycache__").glob("__init__.cpython-313*.pyc"))
        assert compiled, "GIMP's Python did not import the vendored pyzmq"
    finally:
        gimp.install(tmp_path)  # back to the system's python3-zmq
    assert not vendor.exists()
