"""Byte work on layers without numpy, checked against numpy."""

import struct

import numpy as np
import pytest

from sketch_kit import pixels
from sketch_kit.protocol import FORMATS

ALPHA_FORMATS = sorted(f for f, (order, _, _) in FORMATS.items() if "A" in order)
DTYPES = {(1, "u"): np.uint8, (2, "u"): "<u2", (2, "f"): "<f2", (4, "f"): "<f4"}


@pytest.mark.parametrize("fmt", ALPHA_FORMATS)
def test_mask_alpha_matches_numpy(fmt):
    order, size, kind = FORMATS[fmt]
    channels, alpha = len(order), order.index("A")
    dtype = np.dtype(DTYPES[(size, kind)])
    rng = np.random.default_rng(1)
    count = 5000
    if kind == "f":
        data = rng.random((count, channels)).astype(dtype)
    else:
        top = 255 if size == 1 else 65535
        data = rng.integers(0, top + 1, (count, channels)).astype(dtype)
    mask = rng.choice(
        np.array([0, 255, 1, 77, 128, 254], np.uint8), count, p=[0.4, 0.4, 0.05, 0.05, 0.05, 0.05]
    )
    out = np.frombuffer(pixels.mask_alpha(data.tobytes(), fmt, mask.tobytes()), dtype)
    out = out.reshape(count, channels)
    colour = [c for c in range(channels) if c != alpha]
    np.testing.assert_array_equal(out[:, colour], data[:, colour])  # colour is never touched
    expected = data[:, alpha].astype(np.float64) * mask / 255.0
    if kind == "u":
        np.testing.assert_array_equal(out[:, alpha], np.floor(expected + 0.5).astype(dtype))
    else:
        np.testing.assert_allclose(out[:, alpha].astype(np.float64), expected, rtol=2e-3, atol=1e-6)
    assert (out[mask == 0, alpha] == 0).all()
    assert (out[mask == 255, alpha] == data[mask == 255, alpha]).all()


def test_visible_pixels():
    assert not pixels.has_visible_pixels(bytes(16 * 100), "rgbaf32")
    one = bytearray(16 * 100)
    one[16 * 42 + 12 : 16 * 42 + 16] = struct.pack("<f", 0.001)
    assert pixels.has_visible_pixels(bytes(one), "rgbaf32")
    gray = bytearray(2 * 50)
    gray[0] = 255  # gray value without alpha: still invisible
    assert not pixels.has_visible_pixels(bytes(gray), "graya8")
    gray[99] = 1
    assert pixels.has_visible_pixels(bytes(gray), "graya8")
    with pytest.raises(ValueError, match="no alpha"):
        pixels.has_visible_pixels(bytes(4), "gray8")


def test_intersect():
    assert pixels.intersect((10, 10, 100, 50), (0, 0, 50, 200)) == (10, 10, 40, 50)
    assert pixels.intersect((10, 10, 5, 5), (100, 100, 5, 5))[2] == 0


def test_around_covers_the_outer_rectangle_outside_the_inner_once():
    outer, inner = (-5, -3, 40, 30), (10, 4, 12, 9)
    covered = np.zeros((30, 40), int)
    for x, y, w, h in pixels.around(outer, inner):
        assert w > 0 and h > 0
        covered[y + 3 : y + 3 + h, x + 5 : x + 5 + w] += 1
    expected = np.ones((30, 40), int)
    expected[4 + 3 : 4 + 3 + 9, 10 + 5 : 10 + 5 + 12] = 0
    np.testing.assert_array_equal(covered, expected)
    assert pixels.around(inner, outer) == []  # nothing of it lies outside
    assert pixels.around((0, 0, 8, 8), (20, 20, 4, 4)) == [(0, 0, 8, 8)]  # apart: all of it


def test_bands_are_whole_rows_within_the_limit():
    parts = pixels.bands((3, 10, 100, 25), 4, limit=4000)
    assert parts == [(3, 10, 100, 10), (3, 20, 100, 10), (3, 30, 100, 5)]
    assert pixels.bands((0, 0, 5000, 2), 16, limit=100) == [(0, 0, 5000, 1), (0, 1, 5000, 1)]
