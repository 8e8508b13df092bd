"""Line source from hand-designed stroke icons (Tabler Icons, MIT; see LICENSES.md).

Real illustrators' line drawings of objects, animals, tools, weather, buildings... broaden
what the clean targets look like beyond the procedural shapes. The icons were flattened to
polylines once by ``vendor_icons.py`` into ``data/tabler_icons.json.gz``; if that file is
missing, ``available()`` is False and the composer leaves the source out.

The icons are drawn on a 24-unit grid with strokes 2 units wide, so neighbouring lines are at
least ~2 units apart: an icon is only drawn where a unit is at least ``MIN_UNIT_LW`` line
widths, so that its detail never clogs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from . import vendored
from .curves import Element, Stroke, ellipse, rotate

DATA = Path(__file__).with_name("data") / "tabler_icons.json.gz"
MIN_UNIT_LW = 1.25  # px per icon unit, in line widths: 2 units apart >= 2.5 line widths
MIN_SIZE_LW = 26  # smallest icon, in line widths (about 20 units of content)


class Icon:
    """One icon in icon units (0..24): sub-path polylines, which are closed, dot centres."""

    __slots__ = ("name", "lines", "closed", "dots", "lo", "hi")

    def __init__(self, name, lines, closed, dots):
        self.name = name
        self.lines = lines
        self.closed = closed
        self.dots = dots
        allp = np.concatenate(lines)
        self.lo, self.hi = allp.min(0), allp.max(0)


@lru_cache(maxsize=1)
def load_icons(path: Path = DATA) -> tuple[Icon, ...]:
    """The vendored icons (empty if the data file is missing or unreadable)."""
    data = vendored.read(path)
    if data is None:
        return ()
    q = float(data["Q"])
    out = []
    for ic in data["icons"]:
        lines = [vendored.decode(v, q) for v in ic["lines"]]
        lines = [p for p in lines if len(p) >= 2]
        if not lines:
            continue
        dots = np.array(ic["dots"], np.float64).reshape(-1, 2) / q
        out.append(Icon(ic["name"], lines, [bool(c) for c in ic["closed"]], dots))
    return tuple(out)


def available() -> bool:
    return bool(load_icons())


def _poly_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _place(rng, ic: Icon, cx, cy, size, lw, guides: bool) -> Element:
    """One icon, its larger side ``size`` px, centred at (cx, cy), slightly transformed."""
    el = Element()
    ext = float((ic.hi - ic.lo).max())
    k = size / max(ext, 1e-6)  # px per unit
    c = 0.5 * (ic.lo + ic.hi)
    # slight non-uniform scaling, never below the clog limit on either axis
    sx, sy = np.exp(rng.normal(0, 0.07, 2).clip(-0.15, 0.15))
    sx, sy = max(sx * k, MIN_UNIT_LW * lw), max(sy * k, MIN_UNIT_LW * lw)
    if rng.random() < 0.5:
        sx = -sx  # mirrored
    ang = rng.normal(0, 0.12)
    centre = np.array([cx, cy], np.float64)

    def tf(p):
        return rotate((p - c) * (sx, sy) + centre, ang, centre)

    width = rng.uniform(0.9, 1.1)
    jitter = float(np.clip(size / (70 * lw), 0.5, 1.0))  # small icons are drawn carefully
    for p, closed in zip(ic.lines, ic.closed, strict=True):
        q = tf(p)
        if closed and not np.allclose(q[0], q[-1]):
            q = np.concatenate([q, q[:1]])
        el.lines.append(Stroke(q, width * rng.uniform(0.95, 1.05), jitter=jitter))
        # big closed shapes (a body, a bottle, a house front) hide what lies behind
        if closed and _poly_area(p) > 0.12 * ext * ext:
            el.fills.append(q)
    if len(ic.dots) and rng.random() < 0.8:
        r = 0.45 * lw  # a dot: a tiny closed loop that renders as a filled spot
        for d in tf(ic.dots):
            el.lines.append(Stroke(ellipse(d[0], d[1], r, r, 0.0, 0.0, 2 * np.pi, 1.0), width))
    if guides:
        half = 0.5 * np.array([abs(sx), sy]) * (ic.hi - ic.lo) * 1.08
        if rng.random() < 0.5:  # bounding box
            box = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]]) * half + centre
            el.guides.append(rotate(box, ang, centre))
        else:  # bounding circle
            r = float(np.hypot(*half)) * 0.8
            el.guides.append(ellipse(cx, cy, r, r))
        if rng.random() < 0.6:  # centre axes
            for a in (np.array([[0, -1], [0, 1]]), np.array([[-1, 0], [1, 0]])):
                el.guides.append(rotate(a * half * 1.15 + centre, ang, centre))
    return el


def icon(rng, cx, cy, s, lw=2.5) -> Element:
    """One Tabler icon about ``s`` px across, sometimes a small sheet of 2-4 doodles."""
    icons = load_icons()
    el = Element()
    if not icons:
        return el
    n = int(rng.choice([1, 1, 1, 1, 2, 3, 4]))
    if s / 2 * 0.75 < MIN_SIZE_LW * lw:
        n = 1  # too small for a sheet of several
    guides = rng.random() < 0.35
    if n == 1:
        slots = [(cx, cy, s)]
    else:
        cell = s / 2
        if n == 2:
            offs = [(-0.5, 0.0), (0.5, 0.0)]
        elif n == 3:
            offs = [(-0.5, -0.5), (0.5, -0.5), (0.0, 0.5)]
        else:
            offs = [(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)]
        if rng.random() < 0.5:
            offs = [(y, x) for x, y in offs]  # a column instead of a row
        slots = [
            (
                cx + (ox + rng.normal(0, 0.05)) * cell,
                cy + (oy + rng.normal(0, 0.05)) * cell,
                cell * rng.uniform(0.65, 0.85),
            )
            for ox, oy in offs
        ]
    for x, y, size in slots:
        size = max(size, MIN_SIZE_LW * lw)
        # an icon whose content is small in its grid would need to be drawn larger: the few
        # tries keep the element near the asked size; its lines stay 2.5 line widths apart
        for _ in range(4):
            ic = icons[int(rng.integers(len(icons)))]
            if size / float((ic.hi - ic.lo).max()) >= MIN_UNIT_LW * lw:
                break
        el.extend(_place(rng, ic, x, y, size, lw, guides))
    return el
