"""Line weight: redraw thresholded lines at one even width, centred on their centre lines.

The network's lines come out as thick as it happens to draw them (and thicker where it is
unsure). Thinning the line mask to its centre line and re-stroking that with the distance
transform gives every line the width the artist asked for, whatever the raw thickness.

Centre lines and hole filling are not local (a skeleton moves with a stroke's whole shape),
so a canvas is re-stroked in blocks of BLOCK px on a grid from its top-left corner, each
computed from itself and `context(width)` px around it. A region request re-strokes the
same blocks from the same pixels and so gets the full run's pixels bit for bit.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.morphology import remove_small_holes, skeletonize

from backend.window import Box

# `auto` inks a line as heavy as one pass of the sketch's pencil. The backend's estimate
# (2 × ink area / outline) over-measures a rough's strokes: several passes merge and the grain
# frays their outline. On the synthetic roughs, whose clean lines are known, strokes measure
# 3.5 px around 2 px lines; on the Revoy rough 0.6 × its 3.5 px gives lines as heavy as its
# single passes. Within what reads as clean ink at canvas resolution: under 1 px a line breaks
# up into faint dots, over 4 px it is a marker's scribble, not the width to ink at.
AUTO_WIDTH_FRACTION = 0.6
AUTO_WIDTH_RANGE = (1.0, 4.0)
LINE_LEVEL = 0.5  # soft strength at or above this is line, for the centre line
# Pinholes in a thick stretch of the network's output would thin into a mesh of little cells;
# holes up to this many squared line widths are filled first (a drawn loop is larger).
HOLE_AREA = 6.0
BLOCK = 256  # px a side of the blocks a canvas is re-stroked in
# Context each block is re-stroked with: a skeleton near a cut stroke moves by about the
# stroke's half width, and a hole's fill needs the hole; more than either costs time
CONTEXT_PX = 32
CONTEXT_WIDTHS = 4.0


def auto_width(measured: float | None) -> float:
    """The width `auto` asks for, from the sketch's measured stroke width (None: unknown)."""
    low, high = AUTO_WIDTH_RANGE
    if not measured:
        return low
    return float(np.clip(AUTO_WIDTH_FRACTION * measured, low, high))


def centre_line(strength: np.ndarray, width: float = 1.0) -> np.ndarray:
    """Boolean one-pixel-wide centre lines of the line pixels (strength ≥ LINE_LEVEL), after
    filling holes smaller than HOLE_AREA × width² px."""
    lines = remove_small_holes(strength >= LINE_LEVEL, max_size=int(HOLE_AREA * width * width))
    return skeletonize(lines)


def centre_distance(skeleton: np.ndarray, reach: float, offset: float = 0.0) -> np.ndarray:
    """Distance (px) of each pixel centre, moved by (-offset, -offset), to the centre line.

    The centre line is the polyline through the skeleton's pixel centres: a staircase of
    diagonal steps is a straight 45° line, whose pixels' distance to the nearest skeleton
    pixel would be up to 41 % too long and make diagonal lines look thinner. OpenCV finds
    each pixel's nearest skeleton pixel; the distance to it and to its diagonal links is
    then exact. Pixels farther than `reach` get infinity.
    """
    inverted = np.where(skeleton, 0, 255).astype(np.uint8)
    rough, labels = cv2.distanceTransformWithLabels(
        inverted, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(skeleton)  # label k is the k-th skeleton pixel in raster order
    py, px = np.nonzero(rough <= reach + 1.0)  # the 5x5 mask's distances are within 2 %
    nearest = labels[py, px] - 1
    qy, qx = ys[nearest], xs[nearest]
    vy = (py - qy).astype(np.float32) - offset
    vx = (px - qx).astype(np.float32) - offset
    best = np.hypot(vy, vx)
    linked = np.pad(skeleton, 1)
    for ey, ex in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        t = np.clip((vy * ey + vx * ex) / 2.0, 0.0, 1.0)
        along = np.hypot(vy - t * ey, vx - t * ex)
        best = np.where(linked[qy + 1 + ey, qx + 1 + ex], np.minimum(best, along), best)
    distance = np.full(skeleton.shape, np.inf, np.float32)
    distance[py, px] = best
    return distance


def restroke(strength: np.ndarray, width: float, soft: bool) -> np.ndarray:
    """Line strength (1 = line, float32) redrawn `width` px wide around its centre lines.

    soft: anti-aliased, coverage = clip(width/2 + 0.5 - d, 0, 1), d being the distance to
    the centre line, which integrates to `width` across a straight line. Otherwise binary:
    pixels within width/2 (rounded to whole px) of the centre line; an even width cannot be
    centred on pixel centres, so it is measured from the centre line moved half a pixel
    down and right, where a rasteriser would put it.
    """
    skeleton = centre_line(strength, width)
    if not skeleton.any():
        return np.zeros(strength.shape, np.float32)
    if soft:
        distance = centre_distance(skeleton, width / 2 + 0.5)
        return np.clip(width / 2 + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    pixels = max(1, round(width))
    offset = 0.5 if pixels % 2 == 0 else 0.0
    distance = centre_distance(skeleton, pixels / 2 + offset, offset)
    return (distance <= pixels / 2).astype(np.float32)


def context(width: float) -> int:
    """px of context around a block for re-stroking at `width`."""
    return CONTEXT_PX + int(np.ceil(CONTEXT_WIDTHS * width))


def needed(want: Box, width: float, canvas: Box) -> Box:
    """The strength pixels that re-stroking `want` at `width` reads: its blocks and their
    context."""
    return want.snapped(BLOCK, canvas).grown(context(width), canvas)


def restroke_blocks(
    strength: np.ndarray,
    width: float,
    soft: bool,
    box: Box | None = None,
    want: Box | None = None,
    canvas: Box | None = None,
) -> np.ndarray:
    """`restroke` of the canvas, block by block: the pixels of `want` (default: all).

    strength covers `box` of the canvas (default: all of it), which must hold
    needed(want, width, canvas); canvas defaults to `box`.
    """
    box = box or Box.of(strength.shape)
    want = want or box
    canvas = canvas or box
    out = np.zeros(want.shape, np.float32)
    reach = context(width)
    blocks = want.snapped(BLOCK, canvas)
    for top in range(blocks.top, blocks.bottom, BLOCK):
        for left in range(blocks.left, blocks.right, BLOCK):
            block = Box(top, left, min(top + BLOCK, canvas.bottom), min(left + BLOCK, canvas.right))
            core = block.intersect(want)
            if core is None:
                continue
            around = block.grown(reach, canvas)
            done = restroke(strength[around.within(box)], width, soft)
            out[core.within(want)] = done[core.within(around)]
    return out
