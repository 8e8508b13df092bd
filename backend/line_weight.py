"""Line weight: redraw thresholded lines at one even width, centred on their centre lines.

The network's lines come out as thick as it happens to draw them (and thicker where it is
unsure). Thinning the line mask to its centre line and re-stroking that with the distance
transform gives every line the width the artist asked for, whatever the raw thickness.

`auto` only thins (`thin=True`): the re-stroked band is cut to the lines as drawn, so a line
already narrower than the width, a short hatch stroke, a dot or a small loop comes back as the
network drew it, with its full length, and only bolder lines are brought down to the width.
A solid dot (a pupil, a full stop) is not a line at all and stays as drawn however bold.

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

# `auto` thins lines to at most one pass of the sketch's pencil and never thickens one. The
# backend's estimate (2 × ink area / outline) over-measures a rough's strokes: several passes
# merge and the grain frays their outline. The Revoy rough measures 3.5 px: 0.65 × that inks it
# in 2 px lines (ink 0.15, against 0.27 as the network drew it). On the held-out synthetic
# roughs, whose clean lines are about 3 px, a bigger share keeps more F-score (0.7 adds about
# 0.01 at 0.2 % tolerance) but would put the Revoy rough at 2.45 px, on the edge of rounding to
# 3 px lines (ink 0.21) on white. Thinning below 2 px breaks lines into dots (a line already
# thinner is kept as drawn); over 4 px is a marker's scribble, not the width to ink at.
AUTO_WIDTH_FRACTION = 0.65
AUTO_WIDTH_RANGE = (2.0, 4.0)
LINE_LEVEL = 0.5  # soft strength at or above this is line, for the centre line
# Pinholes in a thick stretch of the network's output would thin into a mesh of little cells;
# holes up to this many squared line widths are filled first (a drawn loop is larger).
HOLE_AREA = 6.0
# Thinning only fills pinholes (up to this many squared widths): a bigger hole may be a small
# drawn loop (an eye, a letter's counter) that the cut band keeps as drawn, and filled it would
# thin into one line.
PINHOLE_AREA = 1.0
# A piece of ink whose centre line is at most this many times its width long is a dot, not a
# stroke: thinned, a filled pupil would become a dash. A short bold dash (3 widths) still thins.
DOT_ELONGATION = 2.0
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


def filled_lines(strength: np.ndarray, width: float, hole_area: float = HOLE_AREA) -> np.ndarray:
    """Boolean line pixels (strength ≥ LINE_LEVEL), holes up to hole_area × width² px filled."""
    return remove_small_holes(strength >= LINE_LEVEL, max_size=int(hole_area * width * width))


def centre_line(
    strength: np.ndarray, width: float = 1.0, hole_area: float = HOLE_AREA
) -> np.ndarray:
    """Boolean one-pixel-wide centre lines of the line pixels (strength ≥ LINE_LEVEL), after
    filling holes up to hole_area × width² px."""
    return skeletonize(filled_lines(strength, width, hole_area))


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


def depth_in(lines: np.ndarray) -> np.ndarray:
    """Each line pixel's distance (px) to the nearest paper pixel; 0 on paper."""
    return cv2.distanceTransform(lines.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def ridge_width(skeleton: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """For each pixel, the width (px) of the lines at its nearest centre-line pixel: 2 × that
    pixel's depth (depth_in) inside the lines - 1 (1 px deep is a 1-2 px line, 2 px deep a 3-4
    px one)."""
    inverted = np.where(skeleton, 0, 255).astype(np.uint8)
    _, labels = cv2.distanceTransformWithLabels(
        inverted, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(skeleton)  # label k is the k-th skeleton pixel in raster order
    return (2 * depth[ys, xs] - 1)[labels - 1]


def restroke(strength: np.ndarray, width: float, soft: bool, thin: bool = False) -> np.ndarray:
    """Line strength (1 = line, float32) redrawn `width` px wide around its centre lines.

    soft: anti-aliased, coverage = clip(width/2 + 0.5 - d, 0, 1), d being the distance to
    the centre line, which integrates to `width` across a straight line. Otherwise binary:
    pixels within width/2 (rounded to whole px) of the centre line; an even width cannot be
    centred on pixel centres, so it is measured from the centre line moved half a pixel
    down and right, where a rasteriser would put it.

    thin: only thin, never thicken: lines (pinholes up to PINHOLE_AREA × width² filled)
    whose centre line is no wider than `width` stay as drawn, to their ends; bolder ones
    are cut to the band.
    """
    lines = filled_lines(strength, width, PINHOLE_AREA if thin else HOLE_AREA)
    skeleton = skeletonize(lines)
    if not skeleton.any():
        return np.zeros(strength.shape, np.float32)
    if soft:
        distance = centre_distance(skeleton, width / 2 + 0.5)
        band = np.clip(width / 2 + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    else:
        pixels = max(1, round(width))
        offset = 0.5 if pixels % 2 == 0 else 0.0
        distance = centre_distance(skeleton, pixels / 2 + offset, offset)
        band = (distance <= pixels / 2).astype(np.float32)
    if not thin:
        return band
    drawn = np.where(lines & (strength < LINE_LEVEL), 1.0, strength)  # filled pinholes: ink
    within = max(1, round(width)) if not soft else width
    depth = depth_in(lines)
    band[ridge_width(skeleton, depth) <= within] = 1.0  # not bolder than the width: as drawn
    band[dots(lines, skeleton, depth)] = 1.0
    return np.minimum(band, drawn).astype(np.float32)


def dots(lines: np.ndarray, skeleton: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """The pieces of `lines` (8-connected) whose centre line is at most DOT_ELONGATION times
    their greatest width (2 × depth, depth_in) long."""
    count, labels = cv2.connectedComponents(lines.astype(np.uint8), connectivity=8)
    widest = np.zeros(count, np.float32)
    np.maximum.at(widest, labels.ravel().astype(np.intp), depth.ravel())
    length = np.bincount(labels[skeleton], minlength=count)
    dot = length <= DOT_ELONGATION * 2 * widest
    dot[0] = False  # paper
    return dot[labels]


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
    thin: bool = False,
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
    for block in want.cells(BLOCK, canvas):
        core = block.intersect(want)
        if core is None:
            continue
        around = block.grown(reach, canvas)
        done = restroke(strength[around.within(box)], width, soft, thin)
        out[core.within(want)] = done[core.within(around)]
    return out
