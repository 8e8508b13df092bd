"""Compose a drawing from a random mix of line sources, at a random density."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from . import figures, glyphs, icons, peeps, shapes
from .curves import Element, Stroke, arclen, resample_many

# name: (source, relative frequency, smallest size in line widths)
SOURCES = {
    "head": (figures.head, 0.13, 30),
    "figure": (figures.figure, 0.09, 110),
    "hand": (figures.hand, 0.04, 35),
    "hair": (shapes.hair_bundle, 0.08, 15),
    "drapery": (shapes.drapery, 0.07, 30),
    "curves": (shapes.flowing_curves, 0.10, 10),
    "ellipses": (shapes.ellipses, 0.06, 10),
    "polygons": (shapes.polygons, 0.07, 12),
    "boxes": (shapes.boxes, 0.08, 15),
    "vessel": (shapes.vessel, 0.06, 20),
    "bumpy": (shapes.bumpy, 0.05, 15),
    "plant": (shapes.plant, 0.05, 25),
    "kanji": (glyphs.kanji, 0.05, 28),
    "text": (glyphs.hershey_text, 0.05, 12),
    "letters": (glyphs.outline_letters, 0.02, 25),
    "icon": (icons.icon, 0.10, 30),
    "peep": (peeps.peep, 0.06, 70),
}

# density: (probability, number of elements, element size as a fraction of the canvas)
DENSITIES = {
    "sparse": (0.2, (1, 3), (0.45, 0.95)),
    "medium": (0.4, (3, 7), (0.25, 0.6)),
    "dense": (0.4, (7, 16), (0.15, 0.5)),
}

STEP = 2.0  # resampling step of all lines, px
MIN_INK = 0.02  # least fraction of the canvas covered by target lines (more elements if not)
MAX_INK = 0.16  # no more elements once this much is covered


@lru_cache(maxsize=1)
def _usable_sources():
    ok = {**glyphs.available(), "icons": icons.available(), "peeps": peeps.available()}
    need = {
        "kanji": "kanji",
        "text": "hershey",
        "letters": "outline_letters",
        "icon": "icons",
        "peep": "peeps",
    }
    names = [k for k in SOURCES if ok.get(need.get(k, ""), True)]
    w = np.array([SOURCES[k][1] for k in names])
    return names, w / w.sum()


def _visible_runs(lines: list[Stroke], owner: np.ndarray, zbuf: np.ndarray) -> list[Stroke]:
    """Cut lines where they run under the fill of a later element (``zbuf``: top element)."""
    if not lines:
        return []
    h, w = zbuf.shape
    n = np.array([len(st.pts) for st in lines])
    P = np.concatenate([st.pts for st in lines])
    xi = np.clip(P[:, 0].astype(np.int32), 0, w - 1)
    yi = np.clip(P[:, 1].astype(np.int32), 0, h - 1)
    vis = zbuf[yi, xi] <= np.repeat(owner, n)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    hidden = np.add.reduceat((~vis).astype(np.int32), start)
    out = []
    for st, a0, nh in zip(lines, start, hidden, strict=True):
        if nh == 0:
            out.append(st)
            continue
        v = vis[a0 : a0 + len(st.pts)]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], v.view(np.int8), [0]])))
        out += [
            Stroke(st.pts[a:b], st.width, st.weight, st.jitter)
            for a, b in zip(edges[::2], edges[1::2], strict=True)
            if b - a >= 2
        ]
    return out


def compose(
    rng: np.random.Generator, size: int, lw: float = 2.5, density: str | None = None
) -> Element:
    """A random drawing on a ``size`` x ``size`` canvas for lines ``lw`` px wide.

    Later elements may hide the lines of earlier ones under their fills. Lines are resampled
    every ``STEP`` px."""
    names, probs = _usable_sources()
    fits = np.array([SOURCES[k][2] * lw <= 1.2 * size for k in names])  # small canvases
    if fits.any():
        probs = np.where(fits, probs, 0.0)
        probs = probs / probs.sum()
    if density is None:
        keys = list(DENSITIES)
        density = keys[rng.choice(len(keys), p=[DENSITIES[k][0] for k in keys])]
    _, (n_lo, n_hi), (s_lo, s_hi) = DENSITIES[density]
    n = max(1, int(rng.integers(n_lo, n_hi + 1) * min(1.0, size / 424)))
    occlude = rng.random() < 0.6
    # one or two favourite sources per drawing make it coherent (a page of heads, of text...)
    fav = rng.choice(len(names), size=2, p=probs)
    drawing = Element()
    owner: list[int] = []  # element number of each line
    # number of the top element with a fill there
    zbuf: np.ndarray = np.zeros((size, size), np.uint8)
    inked = 0.0  # px of line inside the canvas
    i = 0
    while (i < n or (inked * lw < MIN_INK * size * size and i < n + 12)) and (
        inked * lw < MAX_INK * size * size
    ):
        k = fav[int(rng.integers(2))] if rng.random() < 0.5 else rng.choice(len(names), p=probs)
        fn, _, min_s = SOURCES[names[k]]
        s = max(size * rng.uniform(s_lo, s_hi), min_s * lw)
        spread = 0.3 if i == 0 or i >= n else 0.55  # first and filler elements nearer the middle
        cx, cy = (0.5 + rng.uniform(-spread, spread, 2)) * size
        i += 1
        el = fn(rng, cx, cy, s, lw)
        pts = resample_many([st.pts for st in el.lines], STEP)
        # some elements are drawn more lightly in the rough (background, secondary forms)
        firm = rng.uniform(0.55, 0.9) if rng.random() < 0.3 else 1.0
        lines = [
            Stroke(p, st.width, st.weight * firm, st.jitter)
            for p, st in zip(pts, el.lines, strict=True)
        ]
        if occlude and el.fills:
            cv2.fillPoly(zbuf, [np.round(f).astype(np.int32) for f in el.fills], i)
        drawing.lines += lines
        owner += [i] * len(lines)
        drawing.guides += el.guides
        if lines:  # (occlusion ignored: a rough count is enough)
            allp = np.concatenate(pts)
            inked += STEP * int(((allp >= 0) & (allp < size)).all(1).sum())
    if occlude:
        zbuf = cv2.erode(zbuf, np.ones((3, 3), np.uint8))  # keep lines along a fill's edge
        drawing.lines = _visible_runs(drawing.lines, np.array(owner), zbuf)
    # keep lines that are long enough and touch the canvas
    keep = []
    for st in drawing.lines:
        p = st.pts
        if arclen(p)[-1] < 4:
            continue
        if (p.max(0) < -4).any() or (p.min(0) > size + 4).any():
            continue
        keep.append(st)
    drawing.lines = keep
    drawing.guides = [g for g in drawing.guides if len(g) >= 2]
    return drawing
