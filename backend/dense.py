"""Dense areas at twice the scale: where the network drew a solid mass, it draws them again.

Where strokes lie closer together than the network's lines are wide (hair drawn strand by
strand, dense hatching, the books on a shelf), the network at the sketch's working scale
merges them into solid black. At twice the scale the same strokes are twice as far apart
and come back as separate lines, and a filled pupil still comes back filled. Only those
areas are run again, blended in over a short ramp: thin lines elsewhere keep the first
pass's pixels and cost nothing more.

The second pass runs block by block, on a grid of BLOCK px from the canvas's top-left
corner, each block from itself and the network's tile overlap around it; a pixel's weight
reads the first pass within `context` px of it. So a region request redoes exactly the
pixels the full run redoes there, and a big layer never needs a canvas at twice the scale.
"""

from __future__ import annotations

import cv2
import numpy as np

# A mass is ink at least this deep (distance to paper, pixel centre to pixel centre) in
# working px: the middle of anything 5 px wide or more, bolder than the network's 3 px lines
# (the card's stroke_width_px measures them as 4), such as merged strokes and the thick knots
# where lines cross. At 3.5 and 4 (6 and 7 px) Revoy's hair and bookshelf stay half merged;
# on the held-out synthetic roughs 3.5 scores 0.005 better at 0.2 % tolerance.
MASS_DEPTH = 3.0
LINE_LEVEL = 0.5  # first-pass output below this is ink (paper = 1)
MARGIN = 3.0  # working px around a mass's core (ink MASS_DEPTH deep) redone in full: its rim
RAMP = 2.0  # working px over which the second pass fades into the first
FACTOR = 2.0  # the second pass's scale, times the first's
MIN_GAIN = 1.5  # a second pass capped below this many times the first's scale is skipped
MAX_SCALE = 4.0  # never past auto scale's own top
BLOCK = 256  # canvas px a side of the blocks the second pass runs in


def finer_scale(scale: float) -> float | None:
    """The second pass's scale for a first pass at `scale`, or None where it would not be
    finer enough to separate anything. (It runs in blocks: no canvas at that scale is made,
    so the first pass's cap on working pixels does not apply.)"""
    finer = min(FACTOR * scale, MAX_SCALE)
    return finer if finer >= MIN_GAIN * scale else None


def context(scale: float) -> int:
    """Canvas px of first-pass output around a pixel that its weight reads."""
    return int(np.ceil((MASS_DEPTH + MARGIN + RAMP) / scale)) + 2


def block_context(finer: float, overlap: int) -> int:
    """Canvas px of sketch around a block that its second pass reads: the tile overlap the
    network is given at every inner tile edge, at the second pass's scale."""
    return int(np.ceil(overlap / finer)) + 2


def weight(output: np.ndarray, scale: float) -> np.ndarray:
    """How much of the second pass each pixel takes (float32 in [0, 1]): 1 on the cores of
    the solid masses of the first pass `output` (canvas px, paper = 1) and MARGIN around
    them, which covers their rims, fading to 0 over RAMP."""
    ink = (output < LINE_LEVEL).astype(np.uint8)
    depth = cv2.distanceTransform(ink, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    core = depth >= MASS_DEPTH / scale
    if not core.any():
        return np.zeros(output.shape, np.float32)
    away = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    reach = (MARGIN + RAMP) / scale
    return np.clip((reach - away) * scale / RAMP, 0.0, 1.0).astype(np.float32)
