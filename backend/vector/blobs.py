"""Solid blobs in a line mask: ink much thicker than its strokes, to be drawn as fills.

A centre-line stroke has one width, so along a solid blob (lettering inked solid, a filled
shadow, a pool of ink) it draws a band through the middle and leaves the rest empty. Such
ink is told apart on the distance transform: somewhere it is at least `blob` stroke widths
thick (its inscribed disc), and the blob spans the ink around that stays EDGE × as thick
(every disc of that size that fits there). Lines running out of a blob are thinner, so they
are left out of it and stay strokes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from backend.vector.outline import Shape, trace_outlines

BLOB = 3.0  # stroke widths: ink at least this thick somewhere is a blob's heart
EDGE = 2.0 / 3.0  # × the heart's thickness: how thick the blob's ink stays out to its edge
BLOB_PX = 4.0  # px: a blob is also this much thicker than a stroke (a stroke misses
# nothing on ink up to 2 px thicker than itself at 1 px tolerance: not worth a fill)
BLOB_AREA = 12.0  # squared stroke widths: smaller ones are ink pooled where lines meet; a
# fill there would cut the lines through it into pieces for a ring of a pixel or two
STUB_AREA = 3.0  # squared stroke widths: smaller bits of line beside a blob join it
REACH = 1.0  # stroke widths, plus REACH_PX: a stroke end this close to a blob, with ink
REACH_PX = 2.0  # between them, is drawn on to it (a centre line ends short of a cut line's
# end by about half its width, and by a pixel or so more where a fork there was pruned)


def _distance(mask: np.ndarray, precise: bool = False) -> np.ndarray:
    """Each pixel's distance to the nearest pixel outside the mask (0 outside); not precise:
    OpenCV's 5×5 chamfer approximation, about 4× faster on a page."""
    size = cv2.DIST_MASK_PRECISE if precise else cv2.DIST_MASK_5
    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, size)


def _thicker(depth: np.ndarray, thickness: float) -> np.ndarray:
    """Union of the discs `thickness` px across that fit inside the ink (a morphological
    opening, done with two distance transforms instead of a large structuring element)."""
    radius = thickness / 2.0 + 0.5  # the depth of a line n px wide is about (n + 1) / 2
    centres = depth >= radius
    if not centres.any():
        return centres
    return (depth > 0) & (_distance(~centres) <= radius)


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(label per pixel, area per label) of 8-connected regions; label 0 is background."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels, stats[:, cv2.CC_STAT_AREA]


def split_blobs(
    lines: np.ndarray, width: float, blob: float = BLOB
) -> tuple[np.ndarray, np.ndarray]:
    """(fill, strokes): the ink of the solid blobs, to be traced as filled outlines, and the
    rest, to be traced as centre lines. `width`: the typical stroke width (px); blob: how
    many widths thick a blob's heart is (0 = no blobs)."""
    lines = np.asarray(lines, bool)
    none = np.zeros_like(lines)
    if blob <= 0 or not lines.any():
        return none, lines
    depth = _distance(lines, precise=True)  # as typical_width measures the stroke width
    heart = max(blob * width, width + BLOB_PX)
    inside = depth >= heart / 2.0 + 0.5  # centres of discs `heart` px across
    if not inside.any():
        return none, lines
    labels, area = _components(_thicker(depth, max(EDGE * heart, width + BLOB_PX)))
    hearts = np.zeros(len(area), bool)
    hearts[labels[inside]] = True
    hearts &= area >= BLOB_AREA * width * width
    hearts[0] = False
    blobs = hearts[labels]
    if not blobs.any():
        return none, lines
    rest = lines & ~blobs
    labels, area = _components(rest)  # corners the discs do not reach, stubs of lines
    beside = cv2.dilate(blobs.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    stub = np.zeros(len(area), bool)
    stub[labels[beside & rest]] = True
    stub &= area < STUB_AREA * width * width
    stub[0] = False
    blobs |= stub[labels]
    rest &= ~stub[labels]
    return blobs, rest


def outlines(fill: np.ndarray) -> list[Shape]:
    """Filled Shapes of the blobs, each traced by VTracer in its own box with a pixel of
    paper around it (on a whole page VTracer spends more time on the paper than the ink)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        fill.astype(np.uint8), connectivity=8
    )
    shapes = []
    for k in range(1, count):
        x, y, w, h = (int(v) for v in stats[k, :4])
        box = np.pad(labels[y : y + h, x : x + w] == k, 1)
        for shape in trace_outlines(box):
            shapes.append(Shape(tuple(loop + (x - 1, y - 1) for loop in shape.loops)))
    return shapes


@dataclass(frozen=True)
class Edges:
    """Where the blobs are, for strokes to reach: the blob pixels, the ink a stroke may be
    drawn on through, and how far (px) a stroke end may be from a blob to be drawn on to it."""

    fill: np.ndarray
    lines: np.ndarray
    reach: float

    @classmethod
    def of(cls, fill: np.ndarray, lines: np.ndarray, width: float) -> Edges:
        return cls(fill, lines | fill, REACH * width + REACH_PX)

    def nearest(self, p: np.ndarray) -> np.ndarray | None:
        """Centre (x, y) of the blob pixel nearest to point p within `reach`, if any."""
        r = int(np.ceil(self.reach))
        col, row = int(p[0]), int(p[1])
        top, left = max(0, row - r), max(0, col - r)
        window = self.fill[top : row + r + 1, left : col + r + 1]
        if not window.any():
            return None
        centres = np.argwhere(window)[:, ::-1] + (left + 0.5, top + 0.5)
        gap = np.hypot(*(centres - p).T)
        k = int(np.argmin(gap))
        return centres[k] if 0 < gap[k] <= self.reach else None

    def meet(self, segments: np.ndarray) -> np.ndarray:
        """An open stroke's cubic segments (n, 4, 2), each end that stops within `reach` of
        a blob drawn on straight to the blob's nearest pixel, where the ink goes on to it."""
        out = [segments]
        for at_end in (False, True):
            p = segments[-1, 3] if at_end else segments[0, 0]
            q = self.nearest(p)
            if q is None:
                continue
            on = p + np.linspace(0.0, 1.0, 2 + int(np.hypot(*(q - p)) * 2))[:, None] * (q - p)
            if not self.lines[on[:, 1].astype(int), on[:, 0].astype(int)].all():
                continue  # a free end that only comes near a blob
            link = np.stack([p, p + (q - p) / 3, q - (q - p) / 3, q])
            out = [*out, link[None]] if at_end else [link[::-1][None], *out]
        return np.concatenate(out)
