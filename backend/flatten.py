"""Flatten lighting: divide a phone photo of paper by its own paper, so the network sees
even white paper.

A photo's paper is lit unevenly (a lamp's falloff, a vignette, a hand's shadow) and tinted by
the light. The network only ever sees gray, where a cast is just a darker paper level, and
for neutral pencil or ink both are a factor of the light: gray = reflectance × light. An
estimate of the paper's brightness everywhere (the background) divided out leaves
reflectance: paper 1, strokes as dark relative to their paper as on the page.

The background is found on a copy downscaled to BACKGROUND_SIDE px, where a grey-level
closing (largest value, then smallest, over a disc) removes strokes and hatching narrower
than the disc, and a median then a Gaussian smooth what is left; it is scaled back up and
divided out at full resolution. Dark areas wider than the disc (1/32 of the page: a
solid fill, a thick marker scribble) count as paper and come out lighter.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_SIDE = 512  # px: the long side the background is estimated at
CLOSING_FRACTION = 1 / 32  # disc diameter as a share of the long side: wider than strokes
PAPER_RATIO = 0.8  # pixels this close to the background are paper, for its median level
MIN_PAPER = 0.02  # the background is never taken darker: no division by zero on black


def background(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness at every pixel of `gray` (float32, paper about 1), smooth."""
    height, width = gray.shape
    factor = min(1.0, BACKGROUND_SIDE / max(height, width))
    small_size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(gray, small_size, interpolation=cv2.INTER_AREA)
    disc = max(3, round(max(small.shape) * CLOSING_FRACTION) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (disc, disc))
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    # the median (8-bit: OpenCV's only type for wide medians) drops what the closing left of
    # bright specks and glare; the Gaussian removes its steps
    level8 = np.rint(np.clip(closed, 0, 1) * 255).astype(np.uint8)
    median = cv2.medianBlur(level8, disc).astype(np.float32) / 255
    smooth = cv2.GaussianBlur(median, (0, 0), disc / 4, borderType=cv2.BORDER_REPLICATE)
    # the closing's largest values follow the peaks of the paper's grain and noise: scaled to
    # the paper's median level, the paper comes out at 1 on average, not a little below
    ratio = small / np.maximum(smooth, MIN_PAPER)
    paper = ratio[ratio > PAPER_RATIO]
    if paper.size:
        smooth = smooth * np.float32(np.median(paper))
    return cv2.resize(smooth, (width, height), interpolation=cv2.INTER_LINEAR)


def flatten(gray: np.ndarray) -> np.ndarray:
    """`gray` (float32 HxW, paper near 1) divided by its background, clipped to [0, 1]."""
    paper = background(gray)
    np.maximum(paper, MIN_PAPER, out=paper)
    np.divide(gray, paper, out=paper)
    return np.clip(paper, 0.0, 1.0, out=paper)
