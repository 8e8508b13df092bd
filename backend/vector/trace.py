"""Centre-line tracing: a line mask → strokes along the line centres, each with its width.

Solid blobs, which no one-width stroke can fill, are split off first (backend.vector.blobs)
and traced as filled outlines (backend.vector.outline). The rest is thinned to its centre
lines (scikit-image), the centre lines are cut into strokes (backend.vector.graph, on skan's
skeleton graph), and every stroke is fitted with cubic Béziers under an error tolerance
(backend.vector.bezier); strokes that end at a blob are drawn on to it. A stroke's width is
its median local width: each line pixel belongs to its nearest centre-line pixel (OpenCV's
distance transform with labels), and that pixel's share of ink over the length of centre
line it stands for is the line's width there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit
from skimage.morphology import remove_small_holes, skeletonize

from backend.vector import bezier, blobs, graph
from backend.vector.outline import Shape

TOLERANCE = 0.75  # px: how far a fitted curve may stray from the centre-line pixels
SPUR = 1.0  # stroke widths: shorter branches from a junction to a free end are hairs
JUNCTION = 1.0  # stroke widths: junction pixels this close together are one junction
MAX_TURN = 50.0  # degrees: strokes continue through a junction when they turn less
WIDTH_RATIO = 1.8  # ... and their widths differ by less than this factor
HOLE_AREA = 0.25  # squared line widths: pinholes up to this size in a line are ink
SMOOTH = 1.0  # px: Gaussian smoothing of the centre line along itself, against pixel stairs
WIDTH_STEP = 1.5  # a stroke whose width swells or thins by this factor is cut into parts,
WIDTH_STEP_PX = 2.0  # ... and by at least this many px (each edge then moves 1 px or more)


@dataclass(frozen=True)
class Stroke:
    """One stroke: cubic Béziers (n, 4, 2) in canvas px (x right, y down, pixel (0, 0)
    covering [0, 1]²), drawn `width` px wide with round caps and joins."""

    segments: np.ndarray
    width: float
    closed: bool = False


def typical_width(mask: np.ndarray) -> float:
    """2 × the median depth of the mask's ridge pixels (px); 1 for an empty mask."""
    m = mask.astype(np.uint8)
    if not m.any():
        return 1.0
    depth = cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ridge = (m > 0) & (depth >= cv2.dilate(depth, np.ones((3, 3), np.uint8)))
    return max(1.0, float(2.0 * np.median(depth[ridge])) - 1.0)


def ink_shares(lines: np.ndarray, skeleton: np.ndarray) -> np.ndarray:
    """Per skeleton pixel, how many line pixels are nearer to it than to any other."""
    inverted = np.where(skeleton, 0, 255).astype(np.uint8)
    _, labels = cv2.distanceTransformWithLabels(
        inverted, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    counts = np.bincount(labels[lines], minlength=int(skeleton.sum()) + 1)
    shares = np.zeros(skeleton.shape, np.float32)
    shares[skeleton] = counts[1:]  # label k is the k-th skeleton pixel in raster order
    return shares


@njit(cache=True)
def _width_runs(widths, step, step_px):
    """Cut points and widths of width_runs (compiled: it runs once per stroke)."""
    n = len(widths)
    whole = np.median(widths)
    reach = max(2, int(round(1.5 * whole)))
    if n <= 4 * reach:
        return np.array([0, n - 1]), np.array([whole])
    smooth = np.empty(n)
    for i in range(n):
        smooth[i] = np.median(widths[max(0, i - reach) : min(n, i + reach + 1)])
    cuts = [0]
    ref = smooth[0]
    for i in range(n):
        changed = smooth[i] < ref / step or smooth[i] > ref * step
        if changed and abs(smooth[i] - ref) >= step_px and i - cuts[-1] >= 2 * reach:
            if n - i < 2 * reach:
                break
            cuts.append(i)
            ref = smooth[i]
    cuts.append(n - 1)
    bounds = np.array(cuts)
    medians = np.empty(len(cuts) - 1)
    for k in range(len(cuts) - 1):
        medians[k] = np.median(widths[bounds[k] : bounds[k + 1] + 1])
    return bounds, medians


def width_runs(widths: np.ndarray, step: float) -> list[tuple[int, int, float]]:
    """(start, stop, width) of the parts of a stroke: its width, as a running median over
    about three widths, stays within `step` (and WIDTH_STEP_PX) of where each part began.
    Parts share their end points and are at least that long, so a stroke is not cut at every
    bump of its outline."""
    bounds, medians = _width_runs(np.asarray(widths, np.float64), step, WIDTH_STEP_PX)
    return [
        (int(bounds[k]), int(bounds[k + 1]) + 1, float(medians[k])) for k in range(len(medians))
    ]


@njit(cache=True)
def smooth(points, sigma, closed):
    """The run of points smoothed along itself with a Gaussian of `sigma` points; an open
    run keeps its ends (they sit on junctions and line ends), a closed one wraps around."""
    n = len(points)
    out = points.copy()
    if sigma <= 0 or n < 3:
        return out
    reach = int(3 * sigma)
    weights = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2)
    last = n - 1 if closed else n  # a closed run repeats its first point at the end
    for i in range(n):
        if not closed and (i == 0 or i == n - 1):
            continue
        sx = sy = total = 0.0
        for k in range(-reach, reach + 1):
            j = i + k
            if closed:
                j %= last
            elif j < 0 or j >= n:
                continue
            w = weights[k + reach]
            if not closed:  # near an end the window shrinks evenly, so the end pulls its
                w *= min(i, n - 1 - i) >= abs(k)  # neighbours no harder than the far side
            sx += w * points[j, 0]
            sy += w * points[j, 1]
            total += w
        out[i, 0], out[i, 1] = sx / total, sy / total
    if closed:
        out[n - 1] = out[0]
    return out


def _to_xy(rows_cols: np.ndarray) -> np.ndarray:
    return rows_cols[:, ::-1] + 0.5


def trace_centrelines(
    mask: np.ndarray,
    tolerance: float = TOLERANCE,
    spur: float = SPUR,
    junction: float = JUNCTION,
    max_turn: float = MAX_TURN,
    width_ratio: float = WIDTH_RATIO,
    width_step: float = WIDTH_STEP,
    blob: float = blobs.BLOB,
) -> list[Stroke | Shape]:
    """Strokes along the centre lines of a boolean line mask (True = line), after filled
    Shapes for its solid blobs.

    tolerance: px a curve may stray from the centre line; spur: branches to a free end
    shorter than this many stroke widths are pruned; junction: junction pixels within this
    many widths are one junction; max_turn / width_ratio: how straight on and how alike in
    width two branches must be to continue each other through a junction; width_step: a
    stroke whose width changes by this factor (and WIDTH_STEP_PX) is cut into strokes of
    their own widths; blob: ink this many widths thick is a solid blob, drawn filled (0:
    never). docs/vector.md explains each step.
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        return []
    width = typical_width(mask)
    lines = remove_small_holes(mask, max_size=int(HOLE_AREA * width * width))
    fill, rest = blobs.split_blobs(lines, width, blob)
    strokes = _strokes(rest, tolerance, spur, junction, max_turn, width_ratio, width_step)
    if not fill.any():
        return list(strokes)
    edges = blobs.Edges.of(fill, rest, width)
    joined = [s if s.closed else Stroke(edges.meet(s.segments), s.width) for s in strokes]
    return [*blobs.outlines(fill), *joined]


def _strokes(
    lines: np.ndarray,
    tolerance: float,
    spur: float,
    junction: float,
    max_turn: float,
    width_ratio: float,
    width_step: float,
) -> list[Stroke]:
    """trace_centrelines after the blobs are split off: the strokes of the remaining lines."""
    if not lines.any():
        return []
    skeleton = skeletonize(lines)
    shares = ink_shares(lines, skeleton)
    net = graph.build(skeleton, shares, junction)
    graph.prune_spurs(net, spur)
    graph.merge_crossings(net, max_turn)
    strokes = []
    for points, widths, closed in graph.chains(net, graph.pair_ends(net, max_turn, width_ratio)):
        runs = width_runs(widths, width_step)
        for start, stop, run_width in runs:
            run_closed = closed and len(runs) == 1
            line = smooth(_to_xy(points[start:stop]), SMOOTH, run_closed)
            segments = bezier.fit(line, tolerance, closed=run_closed)
            if len(segments):
                strokes.append(Stroke(segments, run_width, run_closed))
    for row, col in net.isolated.astype(int):  # a dot: a zero-length stroke, as wide as its ink
        dot = _to_xy(np.array([[row, col]], np.float64))
        diameter = max(1.0, 2.0 * float(np.sqrt(shares[row, col] / np.pi)))
        strokes.append(Stroke(np.repeat(dot, 4, axis=0)[None], diameter))
    return strokes
