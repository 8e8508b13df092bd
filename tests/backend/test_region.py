"""Region requests over real ZeroMQ to a real backend: the preview is the full result's crop.

The session backend tiles with --tile 256 (fixtures.TEST_SERVE_OPTIONS), so the 700x900
canvas is cut into about twenty tiles and a region runs a few of them; the 150x200 one
runs whole in one pass. Dark blots across the dense pass's 256 px block seams (and on the
small canvas) make solid masses, which are drawn again at twice the scale (backend/dense.py),
so every exactness check below covers that pass too.
"""

import json

import cv2
import numpy as np
import pytest

from sketch_kit import protocol as proto
from sketch_kit.client import Client
from tests.support import fixtures

CANVASES = {"tiled": (700, 900), "one pass": (150, 200)}


def canvas(name: str) -> np.ndarray:
    height, width = CANVASES[name]
    image = fixtures.drawing(height, width, seed=21)
    for x, y, r in [(256, 250, 22), (600, 512, 30), (90, 60, 14), (770, 130, 18)]:
        if x < width and y < height:
            cv2.ellipse(image, (x, y), (r, r // 2), 30, 0, 360, 40, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(image, (0, 0), 0.8)


def regions(height: int, width: int) -> list[list[int]]:
    """[x, y, w, h]: inside, at each edge and corner, across tile seams, a pixel, all."""
    return [
        [width // 3, height // 3, width // 7, height // 6],
        [0, 0, 64, 48],
        [width - 70, height - 50, 70, 50],
        [width - 1, 0, 1, height],
        [0, height // 2, width, 3],
        [width // 6, height // 7, width // 2, height // 2],  # several tiles and seams
        [width // 2 + 1, height // 2 - 1, 1, 1],
        [0, 0, width, height],
    ]


# option sets whose preview the docs say equals the crop on any canvas (exact: true)
EXACT_ANYWHERE = [
    {"threshold": 0.4, "scale": 1.0},
    {"threshold": 0.5, "style": "white", "scale": 0.7},
    {"threshold": "none", "scale": 1.3},
    {"style": "soft", "scale": "auto"},
    {"threshold": 0.45, "line_width": 2.5, "scale": 1.0},
    {"threshold": "none", "line_width": "auto", "scale": "auto"},
    {"style": "white", "threshold": 0.5, "line_width": 1, "color": "#2040ff", "scale": 0.6},
]
# Otsu and mean read the whole output: exact on a canvas that runs in one pass
WHOLE_OUTPUT = [
    {"threshold": "otsu", "scale": 1.0},
    {"threshold": "mean", "style": "white", "scale": "auto"},
    {"threshold": "otsu", "line_width": "auto"},
]
FULL: dict[tuple, tuple[dict, np.ndarray]] = {}


@pytest.fixture
def client(backend_server):
    with Client(backend_server["endpoint"]) as c:
        yield c


def as_array(pixels: bytes, width: int, height: int, fmt: str) -> np.ndarray:
    channels, size, kind = proto.FORMATS[fmt]
    dtype = {("u", 1): "u1", ("u", 2): "<u2", ("f", 2): "<f2", ("f", 4): "<f4"}[(kind, size)]
    return np.frombuffer(pixels, dtype).reshape(height, width, len(channels))


def full_result(client, name: str, options: dict, fmt: str = "graya8"):
    """(header, pixels) of the whole canvas, cleaned once per test session."""
    key = (name, json.dumps(options, sort_keys=True), fmt)
    if key not in FULL:
        height, width = CANVASES[name]
        options = {**options, "output_format": fmt}
        header, out = client.clean(canvas(name).tobytes(), width, height, "gray8", options)
        FULL[key] = header, as_array(out, width, height, fmt)
    return FULL[key]


def preview(client, name: str, options: dict, region, fmt: str = "graya8"):
    height, width = CANVASES[name]
    options = {**options, "output_format": fmt}
    header, out = client.clean(
        canvas(name).tobytes(), width, height, "gray8", options, region=region
    )
    x, y, w, h = region
    assert (header["width"], header["height"], header["region"]) == (w, h, region)
    return header, as_array(out, w, h, fmt)


def crop(pixels: np.ndarray, region) -> np.ndarray:
    x, y, w, h = region
    return pixels[y : y + h, x : x + w]


@pytest.mark.parametrize("name", CANVASES)
@pytest.mark.parametrize("options", EXACT_ANYWHERE, ids=json.dumps)
def test_a_region_is_the_crop_of_the_full_result_byte_for_byte(client, name, options):
    full_header, full = full_result(client, name, options)
    for region in regions(*CANVASES[name]):
        header, part = preview(client, name, options, region)
        assert header["exact"] is True, (region, header)
        assert header["level"] == full_header["level"]
        assert part.tobytes() == crop(full, region).tobytes(), region


@pytest.mark.parametrize("options", WHOLE_OUTPUT, ids=json.dumps)
def test_otsu_and_mean_are_exact_where_the_canvas_runs_in_one_pass(client, options):
    full_header, full = full_result(client, "one pass", options)
    assert full_header["tiles"] == 1
    for region in regions(*CANVASES["one pass"]):
        header, part = preview(client, "one pass", options, region)
        assert header["exact"] is True and header["level"] == full_header["level"]
        assert part.tobytes() == crop(full, region).tobytes(), region


@pytest.mark.parametrize("name", CANVASES)
def test_the_blots_are_drawn_again_at_twice_the_scale(client, name):
    header, _ = full_result(client, name, EXACT_ANYWHERE[0])
    assert header["dense"] > 0.002, header
    region = [0, 0, 40, 30]  # nowhere near a blot
    header, _ = preview(client, name, EXACT_ANYWHERE[0], region)
    assert header["dense"] == 0 and header["exact"] is True


def test_a_region_of_a_tiled_canvas_runs_only_its_tiles(client):
    options = {"threshold": 0.4, "scale": 1.0, "line_width": "model"}  # no re-stroke context
    full_header, _ = full_result(client, "tiled", options)
    header, _ = preview(client, "tiled", options, [400, 300, 64, 64])
    assert full_header["tiles"] >= 16 and header["tiles"] <= 4


def test_otsu_on_part_of_a_tiled_canvas_says_it_is_not_exact(client):
    """Its level comes from the tiles that ran; a full run's level sent as a fixed threshold
    gives the crop exactly (an editor that has one can pin it)."""
    full_header, full = full_result(
        client, "tiled", {"threshold": "otsu", "scale": 1.0, "line_width": "model"}
    )
    region = [30, 40, 120, 90]
    header, _ = preview(
        client, "tiled", {"threshold": "otsu", "scale": 1.0, "line_width": "model"}, region
    )
    assert header["exact"] is False and header["level"] != full_header["level"]
    pinned = {"threshold": full_header["level"], "scale": 1.0, "line_width": "model"}
    for region in regions(*CANVASES["tiled"]):
        header, part = preview(client, "tiled", pinned, region)
        assert header["exact"] is True and header["level"] == full_header["level"]
        assert part.tobytes() == crop(full, region).tobytes(), region


def test_the_whole_image_as_a_region_is_the_full_result(client):
    options = {"threshold": "otsu", "line_width": 2, "scale": 0.8}
    full_header, full = full_result(client, "tiled", options)
    height, width = CANVASES["tiled"]
    header, part = preview(client, "tiled", options, [0, 0, width, height])
    assert header["exact"] is True and header["tiles"] == full_header["tiles"]
    assert part.tobytes() == full.tobytes()


@pytest.mark.parametrize("fmt", ["rgba8", "graya16", "rgbaf32", "gray8"])
def test_every_output_format_crops_exactly(client, fmt):
    options = {"threshold": "none", "line_width": 2, "scale": 1.0, "color": "#a03010"}
    _, full = full_result(client, "tiled", options, fmt)
    for region in regions(*CANVASES["tiled"])[:4]:
        _, part = preview(client, "tiled", options, region, fmt)
        assert part.tobytes() == crop(full, region).tobytes(), region


def test_the_full_result_says_its_level_and_no_region(client):
    header, _ = full_result(client, "tiled", {"threshold": 0.4, "scale": 1.0})
    assert header["level"] == 0.4 and "region" not in header and "exact" not in header
    header, _ = full_result(client, "tiled", {"threshold": "none", "scale": 1.0})
    assert header["level"] is None


@pytest.mark.parametrize(
    "region",
    [[0, 0, 901, 700], [850, 650, 51, 50], [-1, 0, 10, 10], [0, 0, 0, 10], [5, 5, 10, 0]]
    + [[0, 0, 10], [0, 0, 10.0, 10], [False, 0, 1, 1], "0,0,10,10", {"x": 0}, 3],
    ids=str,
)
def test_invalid_regions_are_bad_requests(backend_server, client, region):
    height, width = CANVASES["tiled"]
    header = {"v": 1, "op": "clean", "id": "r", "width": width, "height": height}
    header.update(format="gray8", region=region)
    with fixtures.dealer(backend_server["endpoint"]) as sock:
        sock.send_multipart([json.dumps(header).encode(), canvas("tiled").tobytes()])
        assert sock.poll(30000)
        reply = json.loads(sock.recv_multipart()[0])
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "bad_request", "r"), reply
    assert "region" in reply["message"]
    assert client.ping()["type"] == "pong"


def test_a_region_job_can_be_cancelled(client):
    gray = fixtures.drawing(2500, 2500, seed=10)
    job = client.start_clean(
        gray.tobytes(), 2500, 2500, "gray8", {"scale": 1.0}, [50, 60, 2400, 2400]
    )
    fixtures.cancel_mid_inference(client, job)


def test_a_broker_passes_regions_and_refuses_bad_ones(broker_server):
    options = {"threshold": "none", "scale": 1.0, "output_format": "graya8"}
    height, width = CANVASES["tiled"]
    payload = canvas("tiled").tobytes()
    region = [100, 200, 300, 150]
    with Client(broker_server["endpoint"]) as c:
        _, full = c.clean(payload, width, height, "gray8", options, timeout=120)
        header, part = c.clean(payload, width, height, "gray8", options, region=region)
        with pytest.raises(proto.BackendError) as err:
            c.clean(payload, width, height, "gray8", options, region=[0, 0, width + 1, 1])
    assert header["region"] == region and header["exact"] is True
    full_pixels = as_array(full, width, height, "graya8")
    assert as_array(part, 300, 150, "graya8").tobytes() == crop(full_pixels, region).tobytes()
    assert err.value.code == "bad_request"
