"""Composing the result layer: the same pixels as the canvas-sized way, in fewer bytes."""

import tracemalloc

import cv2
import numpy as np
import pytest

from backend import pixels, postprocess
from sketch_kit import protocol as proto


def soft_output(height=300, width=200, seed=0):
    """Something like the network's output: smooth, in [0, 1], mostly paper."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 3)
    return np.clip((noise - noise.min()) / (noise.max() - noise.min()) * 1.3, 0, 1)


def canvas_sized_compose(output, options):
    """The earlier implementation: clip, float copies, full RGB and alpha planes."""
    color = postprocess.parse_color(options.color)
    output = np.clip(output, 0.0, 1.0)
    if options.style == "soft" or options.threshold == "none":
        strength = 1.0 - output
    elif float(output.max() - output.min()) < 0.2:
        strength = (output < 0.5).astype(np.float32)
    else:
        threshold = options.threshold
        if threshold == "mean":
            level = float(output.mean())
        elif threshold == "otsu":
            q = np.rint(output * 255).astype(np.uint8)
            otsu, _ = cv2.threshold(q, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            level = (otsu + 0.5) / 255.0
        else:
            level = float(threshold)
        strength = (output < level).astype(np.float32)
    strength = strength[..., None]
    if options.style == "transparent":
        rgb = np.broadcast_to(color, strength.shape[:2] + (3,))
        return np.ascontiguousarray(rgb, dtype=np.float32), strength[..., 0]
    rgb = color * strength + (1.0 - strength)
    return rgb.astype(np.float32), np.ones(output.shape, dtype=np.float32)


@pytest.mark.parametrize("style", proto.STYLES)
@pytest.mark.parametrize("color", ["#000000", "#404040", "#203060"])
@pytest.mark.parametrize("threshold", ["otsu", "mean", "none", 0.4])
def test_compose_gives_the_same_pixels_as_the_canvas_sized_way(style, color, threshold):
    output = soft_output()
    options = proto.CleanOptions(style=style, color=color, threshold=threshold)
    rgb, alpha = postprocess.compose(output.copy(), options)
    expected_rgb, expected_alpha = canvas_sized_compose(output, options)
    np.testing.assert_array_equal(np.asarray(rgb), expected_rgb)
    np.testing.assert_array_equal(np.asarray(alpha), expected_alpha)
    for fmt in ("gray8", "bgra8", "rgbaf32"):
        assert pixels.encode(rgb, alpha, fmt) == pixels.encode(expected_rgb, expected_alpha, fmt)


def test_black_on_white_needs_one_float_plane():
    """Bytes, not time: numpy reports its buffers to tracemalloc."""
    output = soft_output(2000, 1500, seed=1)
    options = proto.CleanOptions(style="white", color="#000000", threshold="otsu")
    tracemalloc.start()
    try:
        rgb, alpha = postprocess.compose(output, options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6.5 * output.size, peak / output.size  # float strength, uint8 and bool
    assert rgb.shape == (2000, 1500, 3) and alpha.shape == (2000, 1500)


@pytest.mark.parametrize("threshold", ["otsu", "mean", "none", 0.4])
def test_output_a_hair_outside_0_1_reads_as_clipped(threshold):
    """Blended tiles leave values like 1.0000001; no clipped copy is made, same result."""
    output = soft_output(seed=2) * np.float32(1.02) - np.float32(0.01)
    options = proto.CleanOptions(style="white", color="#000000", threshold=threshold)
    rgb, alpha = postprocess.compose(output.copy(), options)
    expected_rgb, _ = canvas_sized_compose(output, options)
    assert np.abs(np.asarray(rgb) - expected_rgb).max() < 1e-6
