"""Flatten lighting on synthetic phone photos (trainer.synth's "photo" roughs, which have
ground truth): the paper comes out even, lines keep their contrast on it, a colour cast goes,
and the `flatten` option reaches the pipeline. (The shipped model's scores with and without
it: tests/test_shipped_model.py and bench/flatten_photos.py.)"""

import numpy as np
import pytest

from backend import pixels
from backend.flatten import flatten
from bench.flatten_photos import SEED, line_contrast, paper_spread, under_a_lamp
from sketch_kit.client import Client
from tests.support import fixtures
from trainer.line_metrics import ink, tolerant_scores
from trainer.synth.pairs import make_pair, pair_rng


@pytest.fixture(scope="module")
def photos():
    return [make_pair(pair_rng(SEED, index), 512, "photo") for index in range(6)]


def test_the_paper_comes_out_even_and_the_lines_keep_their_contrast(photos):
    before, after = [], []
    for rough, clean in photos:
        gray = rough.astype(np.float32) / 255
        flat = flatten(gray)
        before.append((paper_spread(gray, clean), line_contrast(gray, clean)))
        after.append((paper_spread(flat, clean), line_contrast(flat, clean)))
    spread_before, spread_after = np.mean(before, axis=0)[0], np.mean(after, axis=0)[0]
    assert spread_before > 0.1  # these photos are lit unevenly (measured: 0.18)
    assert spread_after < spread_before / 4 and max(a[0] for a in after) < 0.05  # 0.02
    for (_, contrast_before), (_, contrast_after) in zip(before, after, strict=True):
        assert contrast_after > 0.95 * contrast_before  # lines as dark on their paper


def test_an_evenly_lit_drawing_only_gets_white_paper():
    gray = fixtures.drawing(300, 400, seed=2).astype(np.float32) / 255  # paper at 0.92
    flat = flatten(gray)
    lines = gray < 0.5
    assert np.median(flat[~lines]) > 0.98
    assert flat[lines].mean() < gray[lines].mean() / 0.92 + 0.03  # lines stay as dark
    dark, expected = flat < 0.5, gray < 0.5 * 0.92  # the same pixels are dark, on white
    assert (dark & expected).sum() / (dark | expected).sum() > 0.95


def test_a_colour_cast_is_divided_out():
    """Warm light from the left (blue falling to 40 %), dimmer at the bottom, as the network
    sees it: the gray plane the pixels decode to."""
    rough, clean = make_pair(pair_rng(SEED, 7), 384, "clean")
    h, w = rough.shape
    across = np.linspace(1.0, 0.0, w, dtype=np.float32)[None, :]
    down = np.linspace(1.0, 0.7, h, dtype=np.float32)[:, None]
    cast = np.stack([np.ones_like(across), 0.75 + 0.25 * across, 0.4 + 0.6 * across], -1)
    rgb = (rough.astype(np.float32) / 255)[..., None] * cast * down[..., None]
    payload = pixels.encode(rgb, np.ones((h, w), np.float32), "rgba8")
    gray, _ = pixels.decode(payload, w, h, "rgba8")
    assert paper_spread(gray, clean) > 0.2
    assert paper_spread(flatten(gray), clean) < 0.03


def test_the_flatten_option_cleans_a_photo_under_a_lamp_better(backend_server):
    """The test network reads dark paper as ink: without flatten the lamp's dim side turns
    into lines; with it, the lines are found where they are drawn."""
    rough, clean = make_pair(pair_rng(SEED, 1), 512, "photo")
    rough = under_a_lamp(rough, angle=0.5, low=0.3)
    truth = ink(clean / 255.0)
    scores = {}
    with Client(backend_server["endpoint"]) as client:
        for flat in (False, True):
            options = {"style": "white", "output_format": "gray8", "flatten": flat}
            options["line_width"] = "model"  # the network's own lines: flatten alone
            _, out = client.clean(rough.tobytes(), 512, 512, "gray8", options, timeout=120)
            cleaned = np.frombuffer(out, np.uint8).reshape(512, 512) / 255.0
            scores[flat] = tolerant_scores(ink(cleaned), truth, 0.004)["f1"]
    assert scores[True] > scores[False] + 0.1, scores
