"""Turn the network's soft output into the layer the artist asked for."""

from __future__ import annotations

import cv2
import numpy as np

from backend import line_weight


def line_strength(output: np.ndarray, threshold) -> np.ndarray:
    """Alpha of the line layer (1 = line) from the network output (1 = paper).

    otsu: Otsu's level on the output; mean: the original design's rule, pixels darker than
    the output's mean are line; none: soft, anti-aliased; a number: a fixed level.
    An output with almost no contrast (a blank page) has no lines, whatever the rule.
    """
    output = np.clip(output, 0.0, 1.0)
    if threshold == "none":
        return 1.0 - output
    if float(output.max() - output.min()) < 0.2:
        level = 0.5
    elif threshold == "mean":
        level = float(output.mean())
    elif threshold == "otsu":
        otsu, _ = cv2.threshold(
            np.rint(output * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU
        )
        level = (otsu + 0.5) / 255.0
    else:
        level = float(threshold)
    return (output < level).astype(np.float32)


def parse_color(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) / 255.0 for i in (1, 3, 5)], dtype=np.float32)


def anti_aliased(options: dict) -> bool:
    """Whether re-stroked lines get soft edges: the soft and transparent styles (a layer
    meant to sit over other art) and threshold none; the white style's lines stay whole
    pixels, two-tone like its thresholded lines."""
    return options["style"] in ("soft", "transparent") or options["threshold"] == "none"


def compose(
    output: np.ndarray, options: dict, line_width: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rgb HxWx3, alpha HxW) of the result layer, sRGB floats in [0, 1].

    line_width: redraw the lines this many px wide around their centre lines (None: as
    the network drew them).
    """
    color = parse_color(options["color"])
    style = options["style"]
    if style == "soft":
        strength = 1.0 - np.clip(output, 0.0, 1.0)
    else:
        strength = line_strength(output, options["threshold"])
    if line_width is not None:
        strength = line_weight.restroke(strength, line_width, anti_aliased(options))
    strength = strength[..., None]
    if style == "transparent":
        rgb = np.broadcast_to(color, strength.shape[:2] + (3,))
        return np.ascontiguousarray(rgb, dtype=np.float32), strength[..., 0]
    rgb = color * strength + (1.0 - strength)
    return rgb.astype(np.float32), np.ones(output.shape, dtype=np.float32)
