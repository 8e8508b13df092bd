"""Decoding and encoding of every wire format."""

import numpy as np
import pytest

from backend import pixels
from sketch_kit import protocol as proto


def random_rgba(rng, h=6, w=7):
    rgb = rng.random((h, w, 3)).astype(np.float32)
    alpha = rng.random((h, w)).astype(np.float32)
    return rgb, alpha


@pytest.mark.parametrize("fmt", sorted(proto.FORMATS))
def test_encode_decode_round_trip(fmt):
    rng = np.random.default_rng(1)
    rgb, alpha = random_rgba(rng)
    gray_rgb = np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2)  # gray formats keep gray
    data = pixels.encode(gray_rgb, alpha, fmt)
    assert len(data) == 6 * 7 * proto.bytes_per_pixel(fmt)
    gray, decoded_alpha = pixels.decode(data, 7, 6, fmt)
    step = {"u": 1 / 255, "f": 1e-3}[proto.FORMATS[fmt][2]] * 2
    if "A" in proto.FORMATS[fmt][0]:
        np.testing.assert_allclose(decoded_alpha, alpha, atol=step)
    else:  # no alpha channel: the layer was composited onto white when encoded
        np.testing.assert_allclose(decoded_alpha, 1.0)
    # either way, decoding gives the layer as seen on white paper
    np.testing.assert_allclose(gray, gray_rgb[..., 0] * alpha + (1 - alpha), atol=step * 2)


def test_channel_order_of_bgra_and_rgba():
    rgb = np.zeros((1, 1, 3), np.float32)
    rgb[0, 0] = (1.0, 0.0, 0.0)  # pure red
    alpha = np.ones((1, 1), np.float32)
    assert pixels.encode(rgb, alpha, "rgba8") == bytes([255, 0, 0, 255])
    assert pixels.encode(rgb, alpha, "bgra8") == bytes([0, 0, 255, 255])
    assert pixels.encode(rgb, alpha, "bgra16") == bytes([0, 0, 0, 0, 255, 255, 255, 255])


def test_transparent_pixels_become_paper():
    data = bytes([0, 0, 0, 0]) * 4  # black but fully transparent
    gray, alpha = pixels.decode(data, 2, 2, "rgba8")
    np.testing.assert_allclose(gray, 1.0)
    np.testing.assert_allclose(alpha, 0.0)


def test_float_formats_are_linear_light():
    mid_gray_linear = np.array([0.2140, 0.2140, 0.2140, 1.0], np.float32)  # sRGB 0.5
    gray, _ = pixels.decode(mid_gray_linear.tobytes(), 1, 1, "rgbaf32")
    assert gray[0, 0] == pytest.approx(0.5, abs=2e-3)


def test_float_garbage_is_clipped_not_propagated():
    bad = np.array([np.nan, np.inf, -5, 2], np.float32)
    gray, alpha = pixels.decode(bad.tobytes(), 1, 1, "rgbaf32")
    assert np.isfinite(gray).all() and 0 <= gray[0, 0] <= 1 and alpha[0, 0] == 1


@pytest.mark.parametrize("fmt", sorted(proto.FORMATS))
def test_encoding_in_strips_equals_one_pass(fmt, monkeypatch):
    rng = np.random.default_rng(2)
    rgb = rng.random((53, 31, 3)).astype(np.float32)
    alpha = rng.random((53, 31)).astype(np.float32)
    monkeypatch.setattr(pixels, "ENCODE_ROWS", 10**9)  # the whole canvas at once
    whole = pixels.encode(rgb, alpha, fmt)
    monkeypatch.setattr(pixels, "ENCODE_ROWS", 7)
    assert pixels.encode(rgb, alpha, fmt) == whole


def test_opaque_formats_decode_without_an_alpha_plane():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    decoded, alpha = pixels.decode(gray.tobytes(), 4, 3, "gray8")
    np.testing.assert_allclose(decoded, gray / 255, atol=1e-7)
    assert alpha.shape == (3, 4) and (alpha == 1).all() and alpha.strides == (0, 0)
