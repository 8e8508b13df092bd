"""Tiling: any canvas in bounded memory, same result as one pass, no visible seams."""

import numpy as np
import pytest

from backend import tiling
from backend.model import LoadedModel
from tests import fixtures


@pytest.fixture(scope="module")
def model(test_model):
    import keras

    return LoadedModel(keras.saving.load_model(test_model, compile=False), {}, str(test_model))


def test_identity_network_is_reconstructed_exactly():
    image = np.random.default_rng(0).random((530, 700)).astype(np.float32)
    out, tiles = tiling.run_tiled(image, lambda batch: batch, tile=128, overlap=16, batch=3)
    assert tiles > 20
    np.testing.assert_allclose(out, image, atol=1e-5)


def test_small_image_is_one_padded_tile():
    seen = []

    def predict(batch):
        seen.append(batch.shape)
        return batch

    image = np.zeros((100, 70), np.float32)
    out, tiles = tiling.run_tiled(image, predict, tile=256)
    # 100x70 plus a 16 px paper margin all round, rounded up to multiples of 64
    assert tiles == 1 and seen == [(1, 192, 128)] and out.shape == (100, 70)


def test_border_pixels_see_paper_not_zero_padding():
    seen = []

    def predict(batch):
        seen.append(batch.copy())
        return batch

    image = np.full((40, 40), 0.5, np.float32)
    tiling.run_tiled(image, predict, tile=256)
    padded = seen[0][0]
    m = tiling.MARGIN
    assert (padded[:m] == tiling.PAPER).all() and (padded[:, :m] == tiling.PAPER).all()
    assert (padded[m : m + 40, m : m + 40] == 0.5).all()


def test_tiles_start_on_the_network_grid():
    layout = tiling.plan(1001, 777, tile=256, overlap=30, multiple=8)
    assert all(y % 8 == 0 and x % 8 == 0 for y, x in layout["origins"])
    assert layout["padded"][0] % 8 == 0 and layout["padded"][1] % 8 == 0


def test_tiled_matches_untiled_and_has_no_seams(model):
    image = fixtures.drawing(900, 1100, seed=3).astype(np.float32) / 255
    whole, one = tiling.run_tiled(image, model.predict, tile=1152, overlap=32)
    tiled, many = tiling.run_tiled(image, model.predict, tile=256, overlap=32, batch=4)
    assert one == 1 and many > 9
    difference = np.abs(whole - tiled)
    assert difference.max() < 0.02, difference.max()
    # seams: no row or column of the tiled result differs more than the typical ones
    assert difference.mean(axis=1).max() < 5 * difference.mean() + 1e-3
    assert difference.mean(axis=0).max() < 5 * difference.mean() + 1e-3


def test_rejects_tiles_off_the_grid():
    with pytest.raises(ValueError):
        tiling.run_tiled(np.zeros((10, 10), np.float32), lambda b: b, tile=100, multiple=8)
