"""Tiling: any canvas in bounded memory, same result as one pass, no visible seams."""

import numpy as np
import pytest

from backend import defaults, tiling
from backend.model import LoadedModel
from backend.runtime import KerasRuntime
from backend.window import Box
from tests.support import fixtures


@pytest.fixture(scope="module")
def model(test_model):
    import keras

    keras_model = keras.saving.load_model(test_model, compile=False)
    return LoadedModel(keras_model, {}, str(test_model), KerasRuntime(keras_model, ""))


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


@pytest.mark.parametrize("shape", [(1056, 1056), (1001, 777), (5032, 3000), (8032, 8032)])
def test_plan_uses_few_even_tiles_that_overlap_enough(shape):
    tile, overlap = defaults.TILE, defaults.OVERLAP
    layout = tiling.plan(*shape, tile=tile, overlap=overlap, multiple=8)
    th, tw = layout["tile"]
    assert th <= tile and tw <= tile
    for starts, size, padded in (
        (layout["ys"], th, layout["padded"][0]),
        (layout["xs"], tw, layout["padded"][1]),
    ):
        assert starts[0] == 0 and starts[-1] + size == padded  # covered, edge to edge
        assert all(
            a + size - b >= 2 * overlap for a, b in zip(starts[:-1], starts[1:], strict=True)
        )
        assert all(s % 8 == 0 for s in starts)
    computed = len(layout["origins"]) * th * tw
    # overlap (and padding to even tiles) costs at most a quarter more: 1.21x at most here
    assert computed <= 1.25 * shape[0] * shape[1]


def test_a_layer_that_fits_one_tile_runs_whole_in_one_pass():
    m = tiling.MARGIN
    side = defaults.TILE - 2 * m  # 736 px with the default 768 px tiles
    layout = tiling.plan(side + 2 * m, side + 2 * m, defaults.TILE, defaults.OVERLAP, 8)
    assert layout["origins"] == [(0, 0)]
    bigger = tiling.plan(side + 8 + 2 * m, side + 2 * m, defaults.TILE, defaults.OVERLAP, 8)
    assert len(bigger["origins"]) == 2


def reference_tiled(image, predict, tile, overlap, multiple=8):
    """The earlier implementation's blend: pad the canvas, sum window-weighted tiles and
    their windows into two canvas-sized arrays, divide (here on the new layout)."""
    m = tiling.MARGIN
    height, width = image.shape
    layout = tiling.plan(height + 2 * m, width + 2 * m, tile, overlap, multiple)
    th, tw = layout["tile"]
    padded = np.full(layout["padded"], tiling.PAPER, np.float32)
    padded[m : m + height, m : m + width] = image
    ry = tiling._ramp(th, overlap) if len(layout["ys"]) > 1 else np.ones(th, np.float32)
    rx = tiling._ramp(tw, overlap) if len(layout["xs"]) > 1 else np.ones(tw, np.float32)
    window = np.outer(ry, rx)
    total = np.zeros(layout["padded"], np.float32)
    weight = np.zeros(layout["padded"], np.float32)
    for y, x in layout["origins"]:
        pred = predict(padded[None, y : y + th, x : x + tw])[0]
        total[y : y + th, x : x + tw] += pred * window
        weight[y : y + th, x : x + tw] += window
    return (total / weight)[m : m + height, m : m + width]


def test_streamed_output_equals_the_canvas_sized_blend(model):
    image = fixtures.drawing(1300, 900, seed=8).astype(np.float32) / 255
    streamed, tiles = tiling.run_tiled(image, model.predict, tile=512, overlap=32, batch=3)
    assert tiles == 6
    expected = reference_tiled(image, model.predict, 512, 32)
    np.testing.assert_allclose(streamed, expected, atol=2e-6)


def test_tiling_allocates_little_beyond_its_output():
    """Bytes, not time: numpy reports its buffers to tracemalloc."""
    import tracemalloc

    image = np.random.default_rng(1).random((3000, 2000)).astype(np.float32)
    tracemalloc.start()
    try:
        tiling.run_tiled(image, lambda batch: batch * 0.5, tile=512, overlap=32, batch=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = image.nbytes
    tile_batches = 4 * 2 * 512 * 512 * 4  # a batch, its prediction, and weighted copies
    assert peak < output + tile_batches + 1_000_000, peak / image.size


WINDOWS = [
    Box(0, 0, 40, 30),  # top-left corner
    Box(1260, 860, 1300, 900),  # bottom-right corner
    Box(500, 0, 501, 900),  # one row, edge to edge
    Box(300, 200, 700, 650),  # across several seams
    Box(640, 431, 641, 432),  # one pixel
    Box(0, 0, 1300, 900),  # all of it
]


@pytest.mark.parametrize("batch", [1, 3])
def test_a_window_is_the_full_run_bit_for_bit(model, batch):
    """Same grid, same tiles, same batches, same order of sums: not close, equal."""
    image = fixtures.drawing(1300, 900, seed=8).astype(np.float32) / 255
    full, tiles = tiling.run_tiled(image, model.predict, tile=256, overlap=32, batch=batch)
    for window in WINDOWS:
        part, exact, run = tiling.run_window(
            image, model.predict, tile=256, overlap=32, batch=batch, window=window
        )
        assert exact.contains(window) and part.shape == exact.shape
        np.testing.assert_array_equal(part, full[exact.within(Box.of(full.shape))])
        if window.shape[0] * window.shape[1] < 2000:
            assert run < tiles / 3, (window, run, tiles)


def test_a_window_runs_only_the_batches_of_tiles_that_touch_it():
    seen = []

    def predict(batch):
        seen.append(batch.shape[0])
        return batch

    image = np.random.default_rng(2).random((1000, 1000)).astype(np.float32)
    layout = tiling.plan(1000 + 2 * tiling.MARGIN, 1000 + 2 * tiling.MARGIN, 256, 32, 8)
    assert len(layout["origins"]) > 16
    _, exact, run = tiling.run_window(image, predict, tile=256, window=Box(500, 500, 510, 510))
    assert seen == [1] * run and 1 <= run <= 4
    seen.clear()
    _, _, run = tiling.run_window(image, predict, 256, batch=5, window=Box(500, 500, 510, 510))
    assert sum(seen) == run and all(size == 5 for size in seen[:-1])  # whole batches


def test_a_single_pass_canvas_runs_whole_for_any_window():
    image = fixtures.drawing(200, 300, seed=1).astype(np.float32) / 255
    part, exact, run = tiling.run_window(image, lambda b: b * 0.5, window=Box(10, 10, 20, 20))
    assert run == 1 and exact == Box.of(image.shape)
    np.testing.assert_array_equal(part, image * 0.5)
