"""Line source from hand-drawn people (Open Peeps by Pablo Stanley, CC0; see LICENSES.md).

An illustrator's brush drawings of busts and heads (hair styles, hats, faces, beards,
glasses) broaden the clean targets beyond the procedural heads. They were traced once by
``vendor_peeps.py`` into ``data/open_peeps.json.gz``: brush strokes as centre lines, solid
ink masses (black hair, beards, hats) as their outlines, small blots (pupils) as dots, and
each drawing's opaque silhouette. If that file is missing, ``available()`` is False and the
composer leaves the source out.

Coordinates are in the drawings' 704-unit viewBox. Neighbouring lines (eye and brow, the
strands of a quiff) are about ``GAP`` units apart, so a peep is only drawn where a unit is at
least ``MIN_UNIT_LW`` line widths. Where a bust would be much larger than asked, a bare head
is drawn instead (at that scale, it may still be larger than asked; the canvas crops it).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from . import vendored
from .curves import Element, Stroke, ellipse, rotate

DATA = Path(__file__).with_name("data") / "open_peeps.json.gz"
UNITS = 704  # the viewBox of the drawings
GAP = 12.0  # closest distinct lines of the drawings, units
MIN_UNIT_LW = 2.5 / GAP  # px per unit, in line widths: GAP units >= 2.5 line widths
MIN_SIZE_LW = 70  # smallest element, in line widths
# construction guides in drawing units: the cranium's circle and the face's centre line
HEAD_C, HEAD_R = np.array([395.0, 285.0]), 165.0
FACE_AXIS = np.array([[400.0, 150.0], [400.0, 560.0]])


class Peep:
    """One drawing in viewBox units: lines, which are closed / mass outlines, dots, silhouette."""

    __slots__ = ("kind", "parts", "lines", "closed", "solid", "dots", "fill", "lo", "hi")

    def __init__(self, kind, parts, lines, closed, solid, dots, fill):
        self.kind = kind
        self.parts = parts
        self.lines = lines
        self.closed = closed
        self.solid = solid
        self.dots = dots  # (n, 3): x, y, radius
        self.fill = fill
        allp = np.concatenate(lines)
        self.lo, self.hi = allp.min(0), allp.max(0)


@lru_cache(maxsize=1)
def load_peeps(path: Path = DATA) -> tuple[Peep, ...]:
    """The vendored drawings (empty if the data file is missing or unreadable)."""
    data = vendored.read(path)
    if data is None:
        return ()
    q = float(data["Q"])
    out = []
    for pp in data["peeps"]:
        keep = [i for i, v in enumerate(pp["lines"]) if len(v) >= 4]
        if not keep:
            continue
        out.append(
            Peep(
                pp["kind"],
                tuple(pp["parts"]),
                [vendored.decode(pp["lines"][i], q) for i in keep],
                [bool(pp["closed"][i]) for i in keep],
                [bool(pp["solid"][i]) for i in keep],
                np.array(pp["dots"], np.float64).reshape(-1, 3) / q,
                vendored.decode(pp["fill"], q),
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def _heads() -> tuple[Peep, ...]:
    return tuple(p for p in load_peeps() if p.kind == "head")


def available() -> bool:
    return bool(load_peeps())


def _place(rng, pp: Peep, cx, cy, size, lw, guides: bool) -> Element:
    """One drawing, its larger side about ``size`` px (more if the clog limit needs it),
    centred at (cx, cy), slightly transformed."""
    el = Element()
    ext = float((pp.hi - pp.lo).max())
    k = size / max(ext, 1e-6)  # px per unit
    sx, sy = np.exp(rng.normal(0, 0.05, 2).clip(-0.1, 0.1))
    sx, sy = max(sx * k, MIN_UNIT_LW * lw), max(sy * k, MIN_UNIT_LW * lw)
    c = 0.5 * (pp.lo + pp.hi)
    if rng.random() < 0.5:
        sx = -sx  # mirrored
    ang = rng.normal(0, 0.08)
    centre = np.array([cx, cy], np.float64)

    def tf(p):
        return rotate((p - c) * (sx, sy) + centre, ang, centre)

    width = rng.uniform(0.9, 1.1)
    for p, closed in zip(pp.lines, pp.closed, strict=True):
        q = tf(p)
        if closed and not np.allclose(q[0], q[-1]):
            q = np.concatenate([q, q[:1]])
        el.lines.append(Stroke(q, width * rng.uniform(0.95, 1.05)))
    el.fills.append(tf(pp.fill))  # opaque (skin, clothes, hair): hides what lies behind
    r = 0.45 * lw  # a dot (pupil, blot): a tiny closed loop that renders as a filled spot
    for x, y in tf(pp.dots[:, :2]):
        el.lines.append(Stroke(ellipse(x, y, r, r, 0.0, 0.0, 2 * np.pi, 1.0), width))
    if guides:
        hc = tf(HEAD_C[None])[0]
        rr = HEAD_R * abs(sx) * rng.uniform(0.95, 1.08)
        el.guides.append(ellipse(hc[0], hc[1], rr, rr * abs(sy / sx)))
        if rng.random() < 0.7:
            el.guides.append(tf(FACE_AXIS))
        if rng.random() < 0.5:  # eye line
            el.guides.append(tf(np.array([[300.0, 330.0], [560.0, 330.0]])))
    return el


def peep(rng, cx, cy, s, lw=2.5) -> Element:
    """One Open Peeps bust, or a bare head where a bust would be too large, about ``s`` px
    across (larger where its detail would clog at line width ``lw``)."""
    peeps = load_peeps()
    if not peeps:
        return Element()
    size = max(s, MIN_SIZE_LW * lw)
    heads = _heads()
    if heads and MIN_UNIT_LW * lw * UNITS > 1.25 * size:
        pp = heads[int(rng.integers(len(heads)))]  # a bust would be too large: a bare head
    else:
        pp = peeps[int(rng.integers(len(peeps)))]
    return _place(rng, pp, cx, cy, size, lw, rng.random() < 0.4)
