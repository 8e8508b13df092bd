"""The line mask of a finished result layer: what gets traced.

Tracing reads the result's pixels, not the pipeline's inner arrays, so a file cleaned by a
running backend (`clean --server`) is traced exactly like one cleaned in-process, and the
SVG matches the PNG written beside it.
"""

from __future__ import annotations

import numpy as np

from sketch_kit import protocol as proto


def line_mask(
    pixels: bytes, width: int, height: int, fmt: str, options: proto.CleanOptions
) -> np.ndarray:
    """Boolean (height, width): True where the layer shows at least half-strength line.

    Transparent style: the alpha. Lines on paper: how far a pixel has gone from white
    towards the line colour, read on the channel where the colour is darkest (gray8 and
    BGRA8 results, as `clean` writes them).
    """
    channels = proto.bytes_per_pixel(fmt)
    image = np.frombuffer(pixels, np.uint8).reshape(height, width, channels)
    if options.style == "transparent":
        return image[..., 3] >= 128
    rgb = [int(options.color[i : i + 2], 16) for i in (1, 3, 5)]
    if channels == 1:
        rgb = rgb[:1]
    bgr = rgb[::-1]
    channel = int(np.argmin(bgr))
    depth = 255 - bgr[channel]
    if depth == 0:  # white lines on white paper: nothing to see, nothing to trace
        return np.zeros((height, width), bool)
    return (255 - image[..., channel].astype(np.int16)) * 2 >= depth
