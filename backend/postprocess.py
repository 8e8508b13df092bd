"""Turn the network's soft output into the layer the artist asked for."""

from __future__ import annotations

import cv2
import numpy as np

from backend import line_weight
from sketch_kit.protocol import THRESHOLDS, CleanOptions

STRIP_ROWS = 512  # rows at a time where a canvas-sized float temporary is not needed
BLANK_CONTRAST = 0.2  # an output whose range is narrower than this is a blank page


def _as_uint8(output: np.ndarray) -> np.ndarray:
    """rint(clip(output) × 255) as uint8, a strip at a time: 1 byte per pixel, no float copy."""
    out = np.empty(output.shape, np.uint8)
    for y in range(0, output.shape[0], STRIP_ROWS):
        out[y : y + STRIP_ROWS] = np.rint(np.clip(output[y : y + STRIP_ROWS], 0.0, 1.0) * 255)
    return out


def _clipped_mean(output: np.ndarray, low: float, high: float) -> float:
    if low >= 0.0 and high <= 1.0:
        return float(output.mean())
    rows = range(0, output.shape[0], STRIP_ROWS)
    total = sum(float(np.clip(output[y : y + STRIP_ROWS], 0.0, 1.0).sum()) for y in rows)
    return total / output.size


def threshold_level(output: np.ndarray, options: CleanOptions) -> float | None:
    """The level below which the network output (1 = paper) is line; None where none is
    used (style soft, threshold none).

    otsu: Otsu's level on the output; mean: the original design's rule, pixels darker than
    the output's mean are line; a number: a fixed level. An output with almost no contrast
    (a blank page) has no lines, whatever the rule: its level is 0.5. The output is read as
    clipped to [0, 1] (blending leaves it a hair outside) without a clipped copy of the
    canvas. otsu, mean and the blank-page rule read the whole of `output`.
    """
    threshold = options.threshold
    if options.style == "soft" or threshold == "none":
        return None
    raw_low, raw_high = float(output.min()), float(output.max())
    low, high = min(max(raw_low, 0.0), 1.0), min(max(raw_high, 0.0), 1.0)
    if high - low < BLANK_CONTRAST:
        return 0.5
    if threshold == "mean":
        return _clipped_mean(output, raw_low, raw_high)
    if threshold == "otsu":
        otsu, _ = cv2.threshold(_as_uint8(output), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return (otsu + 0.5) / 255.0
    return float(threshold)


def level_is_local(options: CleanOptions, level: float | None) -> bool:
    """Whether threshold_level gives `level` on any output that contains this part of it:
    no level at all, or a fixed level the blank-page rule left (a part with contrast has a
    whole with contrast; a blank part's 0.5 is only sure when the fixed level is 0.5)."""
    if level is None:
        return True
    return options.threshold not in THRESHOLDS and level == float(options.threshold)


def line_strength(output: np.ndarray, options: CleanOptions, level: float | None) -> np.ndarray:
    """Alpha of the line layer (1 = line) from the network output (1 = paper) and the
    threshold_level; soft where there is none. A new float32 array (the caller may change
    it); each pixel depends on its own output pixel only."""
    if options.style == "soft":
        return 1.0 - np.clip(output, 0.0, 1.0)
    if level is None:
        strength = 1.0 - output
        return np.clip(strength, 0.0, 1.0, out=strength)
    # for a level in (0, 1], output < level is clip(output) < level
    return (output < level).astype(np.float32)


def parse_color(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) / 255.0 for i in (1, 3, 5)], dtype=np.float32)


def anti_aliased(options: CleanOptions) -> bool:
    """Whether re-stroked lines get soft edges: the soft and transparent styles (a layer
    meant to sit over other art) and threshold none; the white style's lines stay whole
    pixels, two-tone like its thresholded lines."""
    return options.style in ("soft", "transparent") or options.threshold == "none"


def paint(strength: np.ndarray, options: CleanOptions) -> tuple[np.ndarray, np.ndarray]:
    """(rgb HxWx3, alpha HxW) of the result layer from the line strength, sRGB floats in
    [0, 1]; may reuse `strength`'s memory."""
    color = parse_color(options.color)
    # Big layers: no canvas-sized plane that says nothing. One colour everywhere and an
    # opaque alpha are zero-byte broadcasts; gray or black lines share one plane for R, G, B.
    if options.style == "transparent":
        return np.broadcast_to(color, strength.shape + (3,)), strength
    opaque = np.broadcast_to(np.float32(1.0), strength.shape)
    if color[0] == color[1] == color[2]:
        for y in range(0, strength.shape[0], STRIP_ROWS):  # in place, strip by strip
            part = strength[y : y + STRIP_ROWS]
            part[...] = color[0] * part + (1.0 - part)
        return np.broadcast_to(strength[..., None], strength.shape + (3,)), opaque
    strength = strength[..., None]
    rgb = color * strength + (1.0 - strength)
    return rgb.astype(np.float32), opaque


def compose(
    output: np.ndarray, options: CleanOptions, line_width: float | None = None, thin: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(rgb HxWx3, alpha HxW) of the result layer for a whole canvas's output.

    line_width: redraw the lines this many px wide around their centre lines (None: as
    the network drew them); thin: only thin lines bolder than that (line_width auto).
    """
    strength = line_strength(output, options, threshold_level(output, options))
    if line_width is not None:
        strength = line_weight.restroke_blocks(
            strength, line_width, anti_aliased(options), thin=thin
        )
    return paint(strength, options)
