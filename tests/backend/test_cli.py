"""`python -m backend` from the command line: `clean` on files and folders, in-process and
through a server, and `serve`/`broker` on an address that is taken."""

import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import cv2
import numpy as np

from sketch_kit import protocol as proto
from sketch_kit.client import Client
from tests.support import fixtures
from trainer.line_metrics import tolerant_scores


def run_cli(*args, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=fixtures.ROOT,
        env=fixtures.backend_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_folder(root):
    (root / "frames" / "act2").mkdir(parents=True)
    cv2.imwrite(str(root / "frames" / "f001.png"), fixtures.drawing(120, 150, seed=1))
    cv2.imwrite(str(root / "frames" / "act2" / "f002.jpg"), fixtures.drawing(90, 100, seed=2))
    deep = fixtures.drawing(80, 80, seed=3).astype(np.uint16) * 257
    cv2.imwrite(str(root / "frames" / "f003.png"), cv2.cvtColor(deep, cv2.COLOR_GRAY2BGR))
    (root / "frames" / "notes.txt").write_text("not an image")
    return root / "frames"


def test_clean_a_folder_in_process(tmp_path, test_model):
    frames = make_folder(tmp_path)
    out = run_cli(
        "clean",
        str(frames),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(test_model),
        "--scale",
        "1",
        "--line-width",
        "model",
    )
    assert out.returncode == 0, out.stderr
    assert "3 of 3 image(s) cleaned" in out.stdout
    result = cv2.imread(str(tmp_path / "out" / "f001.png"), cv2.IMREAD_UNCHANGED)
    assert result.shape == (120, 150) and result.dtype == np.uint8  # black on white: gray
    ink = fixtures.drawing(120, 150, seed=1) < 128
    assert result[ink].mean() < 60 and result[~ink].mean() > 230
    assert (tmp_path / "out" / "act2" / "f002.png").exists()
    assert cv2.imread(str(tmp_path / "out" / "f003.png")).shape[:2] == (80, 80)


def test_clean_through_a_server_with_transparent_style(tmp_path, backend_server):
    frames = make_folder(tmp_path)
    out = run_cli(
        "clean",
        str(frames / "f001.png"),
        "-o",
        str(tmp_path / "out"),
        "--server",
        backend_server["endpoint"],
        "--style",
        "transparent",
        "--color",
        "#0000ff",
    )
    assert out.returncode == 0, out.stderr
    bgra = cv2.imread(str(tmp_path / "out" / "f001.png"), cv2.IMREAD_UNCHANGED)
    assert bgra.shape == (120, 150, 4)
    lines = bgra[..., 3] > 128
    assert lines.any() and (bgra[lines][:, 0] == 255).all() and (bgra[lines][:, 2] == 0).all()


def test_line_width_option(tmp_path, test_model):
    gray = np.full((100, 160), 235, np.uint8)
    gray[47:54] = 20  # one 7 px stroke
    cv2.imwrite(str(tmp_path / "line.png"), gray)
    ink = {}
    for width in ("1", "3", "model"):
        out = run_cli(
            "clean",
            str(tmp_path / "line.png"),
            "-o",
            str(tmp_path / width),
            "--model",
            str(test_model),
            "--scale",
            "1",
            "--line-width",
            width,
        )
        assert out.returncode == 0, out.stderr
        result = cv2.imread(str(tmp_path / width / "line.png"), cv2.IMREAD_GRAYSCALE)
        ink[width] = (result[:, 30:130] < 128).sum(axis=0)  # lines on white: whole pixels
    assert (ink["1"] == 1).all() and (ink["3"] == 3).all() and (ink["model"] >= 6).all()
    out = run_cli("clean", str(tmp_path), "-o", str(tmp_path / "x"), "--line-width", "99")
    assert out.returncode != 0 and "line_width must be" in out.stderr


def test_unreadable_file_is_reported_and_others_go_on(tmp_path, test_model):
    frames = make_folder(tmp_path)
    (frames / "broken.png").write_bytes(b"\x89PNG not really")
    out = run_cli("clean", str(frames), "-o", str(tmp_path / "out"), "--model", str(test_model))
    assert out.returncode == 1
    assert f"failed: {frames / 'broken.png'}" in out.stderr  # not just the progress bar
    assert "3 of 4 image(s) cleaned" in out.stdout


def test_bad_option_and_missing_server_are_clear(tmp_path):
    frames = make_folder(tmp_path)
    out = run_cli("clean", str(frames), "-o", str(tmp_path / "o"), "--threshold", "sharp")
    assert out.returncode != 0 and "threshold must be" in out.stderr
    port = fixtures.free_port()
    out = run_cli(
        "clean", str(frames), "-o", str(tmp_path / "o"), "--server", f"tcp://127.0.0.1:{port}"
    )
    assert out.returncode != 0 and "no Sketch Cleanup backend answers" in out.stderr


def test_runtime_and_tiling_mistakes_are_explained(tmp_path, test_model):
    frames = make_folder(tmp_path)
    common = ["clean", str(frames), "-o", str(tmp_path / "o"), "--model", str(test_model)]
    out = run_cli(*common, "--runtime", "openvino-int8")  # no int8 copy of the test model
    assert out.returncode != 0 and "trainer.quantize" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli(*common, "--tile", "100")
    assert out.returncode != 0 and "multiple of 8" in out.stderr and "Traceback" not in out.stderr
    out = run_cli(*common, "--runtime", "keras", "--scale", "1")
    assert out.returncode == 0 and "3 of 3 image(s) cleaned" in out.stdout, out.stderr


def svg_paths(path):
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root, root.findall("{http://www.w3.org/2000/svg}path")


def test_clean_writes_svg_instead_of_or_beside_the_png(tmp_path, test_model):
    frames = make_folder(tmp_path)
    common = ["--model", str(test_model), "--scale", "1", "--color", "#224466"]
    out = run_cli("clean", str(frames), "-o", str(tmp_path / "svg"), "--format", "svg", *common)
    assert out.returncode == 0 and "3 of 3 image(s) cleaned" in out.stdout, out.stderr
    assert files_under(tmp_path / "svg") == ["act2/f002.svg", "f001.svg", "f003.svg"]
    root, paths = svg_paths(tmp_path / "svg" / "f001.svg")
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "150",
        "120",
        "0 0 150 120",
    )
    assert paths and all(p.get("stroke") == "#224466" and p.get("fill") == "none" for p in paths)
    assert all(float(p.get("stroke-width")) > 0 for p in paths)

    out = run_cli(
        "clean", str(frames), "-o", str(tmp_path / "both"), "--format", "png,svg", *common
    )
    assert out.returncode == 0, out.stderr
    assert len(files_under(tmp_path / "both")) == 6
    png = cv2.imread(str(tmp_path / "both" / "f001.png"), cv2.IMREAD_UNCHANGED)
    drawn = render_svg(tmp_path / "both" / "f001.svg")
    lines = png[..., :3].min(axis=2) < 191  # the colour's darkest channel, on white
    assert tolerant_scores(drawn, lines, 1 / 150)["f1"] >= 0.95  # the SVG draws the PNG


def render_svg(path):
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_path=str(path), background="#ffffff", skip_system_fonts=True)
    gray = cv2.imdecode(np.frombuffer(bytes(png), np.uint8), cv2.IMREAD_GRAYSCALE)
    return gray < 191


def test_clean_outline_svg_and_format_mistakes(tmp_path, test_model):
    frames = make_folder(tmp_path)
    out = run_cli(
        "clean",
        str(frames / "f001.png"),
        "-o",
        str(tmp_path / "o"),
        "--model",
        str(test_model),
        "--format",
        "svg",
        "--vector",
        "outline",
    )
    assert out.returncode == 0, out.stderr
    _, paths = svg_paths(tmp_path / "o" / "f001.svg")
    assert paths and all(p.get("fill") == "#000000" and p.get("stroke") == "none" for p in paths)
    out = run_cli("clean", str(frames), "-o", str(tmp_path / "x"), "--format", "pdf")
    assert out.returncode != 0 and "--format must be png, svg or png,svg" in out.stderr
    assert not (tmp_path / "x").exists()


def test_help_lists_every_command():
    out = run_cli("--help")
    assert out.returncode == 0
    clean_help = run_cli("clean", "--help").stdout
    assert "--line-width" in clean_help and "--format png|svg|png,svg" in clean_help
    assert "--vector {centreline,outline}" in clean_help and "--tolerance" in clean_help
    for command in ("serve", "worker", "broker", "keys", "info", "clean"):
        assert command in out.stdout
    serve = run_cli("serve", "--help")
    assert "--runtime {auto,keras,openvino" in serve.stdout and "--max-queued-bytes" in serve.stdout


def test_serve_on_a_taken_address(backend_server, test_model):
    """A second backend says so and exits EXIT_ADDRESS_IN_USE, which the editor plugins read
    as "another backend holds it: wait for that one"."""
    endpoint = backend_server["endpoint"]
    second = run_cli("serve", "--bind", endpoint, "--model", str(test_model), timeout=120)
    assert second.returncode == proto.EXIT_ADDRESS_IN_USE, second.stderr[-2000:]
    assert f"{endpoint} is already in use" in second.stderr
    assert "Traceback" not in second.stderr
    # the first one is unharmed
    client = Client(endpoint)
    try:
        assert client.info(timeout=10)["type"] == "info"
    finally:
        client.close()


def test_broker_on_a_taken_address(backend_server):
    workers = f"tcp://127.0.0.1:{fixtures.free_port()}"
    second = run_cli("broker", "--bind", backend_server["endpoint"], "--workers", workers)
    assert second.returncode == proto.EXIT_ADDRESS_IN_USE, second.stderr[-2000:]
    assert "is already in use" in second.stderr


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_inputs_that_would_share_an_output_are_refused(tmp_path):
    """`x/a.png y/a.png -o out` said "2 of 2 cleaned" and left one file."""
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "a.png"), fixtures.drawing(40, 40))
    out = run_cli("clean", str(tmp_path / "x/a.png"), str(tmp_path / "y/a.png"), "-o", "out")
    assert out.returncode != 0 and "same output file" in out.stderr
    assert "x/a.png" in out.stderr and "y/a.png" in out.stderr
    same = tmp_path / "same"
    same.mkdir()
    cv2.imwrite(str(same / "same.png"), fixtures.drawing(40, 40))
    cv2.imwrite(str(same / "same.jpg"), fixtures.drawing(40, 40))
    out = run_cli("clean", str(same), "-o", str(tmp_path / "out"))
    assert out.returncode != 0 and "same.jpg and " in out.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_cleaning_a_folder_into_itself_is_refused(tmp_path):
    frames = make_folder(tmp_path)
    before = {name: (frames / name).read_bytes() for name in files_under(frames)}
    out = run_cli("clean", str(frames), "-o", str(frames))
    assert out.returncode != 0 and "would replace the input" in out.stderr
    assert {name: (frames / name).read_bytes() for name in files_under(frames)} == before


def test_a_truncated_jpeg_is_reported_not_cleaned(tmp_path, test_model):
    frames = make_folder(tmp_path)
    _, jpeg = cv2.imencode(".jpg", fixtures.drawing(200, 200, seed=5))
    (frames / "cut.jpg").write_bytes(jpeg.tobytes()[: len(jpeg) // 2])  # cv2.imread takes it
    out = run_cli("clean", str(frames), "-o", str(tmp_path / "out"), "--model", str(test_model))
    assert out.returncode == 1
    assert f"failed: {frames / 'cut.jpg'}: " in out.stderr and "truncated JPEG" in out.stderr
    assert "3 of 4 image(s) cleaned" in out.stdout
    assert not (tmp_path / "out" / "cut.png").exists()


WRITER = """
import sys
import time
import numpy as np
from backend import batch
noise = np.random.default_rng(0).integers(0, 256, (3000, 3000, 4), np.uint8)
batch.write_image(batch.Path(sys.argv[1]), noise.tobytes(), 3000, 3000, "bgra8")
"""


def test_a_write_killed_midway_leaves_no_partial_file(tmp_path):
    """kill -9 while a result is written: the final name holds a whole PNG or nothing."""
    target = tmp_path / "out" / "frame.png"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], cwd=fixtures.ROOT, env=fixtures.backend_env()
    )
    try:
        deadline = time.monotonic() + 120
        while not target.exists() and writer.poll() is None:  # kill the moment it appears
            assert time.monotonic() < deadline
            time.sleep(0.001)
    finally:
        writer.kill()
        writer.wait()
    if target.exists():
        data = target.read_bytes()
        assert data.endswith(b"IEND\xaeB`\x82"), f"truncated: {len(data)} bytes"
        assert cv2.imread(str(target), cv2.IMREAD_UNCHANGED).shape == (3000, 3000, 4)
    assert not [p for p in files_under(tmp_path / "out") if p.endswith(".png") and p != "frame.png"]


def test_clean_with_flatten(tmp_path, test_model):
    """`--flatten` reaches the pipeline: a phone photo under a lamp is cleaned without its
    dim side turning into lines (the test network reads dark paper as ink)."""
    from bench.flatten_photos import SEED, under_a_lamp
    from trainer.line_metrics import ink, tolerant_scores
    from trainer.synth.pairs import make_pair, pair_rng

    rough, target = make_pair(pair_rng(SEED, 1), 384, "photo")
    cv2.imwrite(str(tmp_path / "photo.png"), under_a_lamp(rough, angle=0.5, low=0.3))
    scores = {}
    for flag in ([], ["--flatten"]):
        out_dir = tmp_path / ("flat" if flag else "plain")
        args = ["clean", str(tmp_path / "photo.png"), "-o", str(out_dir)]
        out = run_cli(*args, "--model", str(test_model), *flag)
        assert out.returncode == 0, out.stderr
        result = cv2.imread(str(out_dir / "photo.png"), cv2.IMREAD_GRAYSCALE) / 255.0
        scores[bool(flag)] = tolerant_scores(ink(result), ink(target / 255.0), 0.004)["f1"]
    assert scores[True] > scores[False] + 0.1, scores
