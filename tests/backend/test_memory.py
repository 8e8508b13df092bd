"""Memory of a whole clean, in bytes (not time): numpy reports its buffers to tracemalloc.

The network runtime's own buffers are not counted here (bounded by the tile size); the
benchmark measures the backend process's peak as a whole (bench/bench_backend.py).
"""

import tracemalloc

import pytest

from backend.model import load
from backend.pipeline import Cleaner
from sketch_kit import protocol as proto
from tests.support import fixtures


@pytest.mark.parametrize(
    "style, line_width, bound",
    [
        ("transparent", "model", 14),
        ("white", "model", 14),
        # re-stroking keeps the strength and its redrawn copy, two float32 canvases, at once
        ("transparent", "auto", 18),
        ("white", "auto", 18),
    ],
)
def test_a_big_layer_needs_a_few_bytes_per_pixel_of_arrays(test_model, style, line_width, bound):
    side = 3000
    payload = fixtures.drawing(side, side, seed=9).tobytes()
    cleaner = Cleaner(load(test_model, "keras"))
    options = proto.CleanOptions(
        style=style, scale=1.0, output_format="gray8", line_width=line_width
    )
    tracemalloc.start()
    try:
        result, done = cleaner.clean(payload, side, side, "gray8", options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result) == side * side and done["tiles"] > 1
    # the canvas-sized pipeline needed about 52 B/px here; now ~10 plus a few tile buffers
    assert peak < bound * side * side, peak / (side * side)
