"""Geometry helpers. A stroke is an (N, 2) float array of pixel coordinates (x, y)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Stroke:
    """One intended line of the drawing: the clean target draws it once, the rough many times."""

    pts: np.ndarray
    width: float = 1.0  # relative to the drawing's base line width
    weight: float = 1.0  # how firmly the artist commits to it (detail lines are lighter)
    jitter: float = 1.0  # how loosely it is sketched (small careful shapes: below 1)
    passes: float = 1.0  # scales the extra passes of the rough (quick hatch strokes: few)


@dataclass(slots=True)
class Element:
    """What a line source returns: target lines, construction guides, and an occluding fill."""

    lines: list[Stroke] = field(default_factory=list)
    guides: list[np.ndarray] = field(default_factory=list)  # drawn lightly in the rough only
    fills: list[np.ndarray] = field(default_factory=list)  # polygons hiding earlier elements

    def extend(self, other: Element) -> Element:
        self.lines += other.lines
        self.guides += other.guides
        self.fills += other.fills
        return self


def arclen(pts: np.ndarray) -> np.ndarray:
    seg = np.sqrt(((pts[1:] - pts[:-1]) ** 2).sum(1))
    return np.concatenate([[0.0], np.cumsum(seg)])


def resample(pts: np.ndarray, step: float) -> np.ndarray:
    """Resample a polyline to (about) equal spacing ``step``."""
    pts = np.asarray(pts, np.float64)
    s = arclen(pts)
    total = s[-1]
    if total < 1e-6:
        return np.repeat(pts[:1], 2, axis=0)
    n = max(2, int(np.ceil(total / step)) + 1)
    t = np.linspace(0.0, total, n)
    return np.stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])], 1)


def catmull_rom(ctrl, closed: bool = False, px_per_sample: float = 3.0) -> np.ndarray:
    """Uniform Catmull-Rom spline through the control points."""
    p = np.asarray(ctrl, np.float64)
    if len(p) < 2:
        return np.repeat(p[:1], 2, axis=0)
    if closed:
        p = np.concatenate([p[-1:], p, p[:2]])
    else:
        p = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    p0, p1, p2, p3 = p[:-3], p[1:-2], p[2:-1], p[3:]
    seg = np.sqrt(((p2 - p1) ** 2).sum(1)).mean()
    k = int(np.clip(seg / px_per_sample, 3, 48))
    t = np.linspace(0.0, 1.0, k, endpoint=False)[None, :, None]
    a, b = 2 * p1, p2 - p0
    c = 2 * p0 - 5 * p1 + 4 * p2 - p3
    d = -p0 + 3 * p1 - 3 * p2 + p3
    out = 0.5 * (a[:, None] + b[:, None] * t + c[:, None] * t**2 + d[:, None] * t**3)
    return np.concatenate([out.reshape(-1, 2), p2[-1:]])


def bezier(p0, p1, p2, p3, px_per_sample: float = 3.0) -> np.ndarray:
    """Cubic Bezier curve."""
    c = np.asarray([p0, p1, p2, p3], np.float64)
    rough_len = np.sqrt(((c[1:] - c[:-1]) ** 2).sum(1)).sum()
    n = int(np.clip(rough_len / px_per_sample, 4, 200))
    t = np.linspace(0.0, 1.0, n)[:, None]
    u = 1 - t
    return u**3 * c[0] + 3 * u * u * t * c[1] + 3 * u * t * t * c[2] + t**3 * c[3]


def ellipse(cx, cy, rx, ry, rot=0.0, t0=0.0, t1=2 * np.pi, px_per_sample: float = 3.0):
    """Elliptic arc from angle t0 to t1 (radians), ellipse rotated by ``rot``."""
    circ = abs(t1 - t0) * (abs(rx) + abs(ry)) / 2
    n = int(np.clip(circ / px_per_sample, 8, 400))
    t = np.linspace(t0, t1, n)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = np.cos(rot), np.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def rotate(pts: np.ndarray, ang: float, center) -> np.ndarray:
    c, s = np.cos(ang), np.sin(ang)
    d = np.asarray(pts, np.float64) - center
    return np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], 1) + center


def resample_many(polys: list[np.ndarray], step: float) -> list[np.ndarray]:
    """``resample`` for many polylines at once (vectorised)."""
    if not polys:
        return []
    n = np.array([len(p) for p in polys])
    P = np.concatenate(polys).astype(np.float64)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    seg = np.zeros(len(P))
    seg[1:] = np.sqrt(((P[1:] - P[:-1]) ** 2).sum(1))
    seg[start] = 0.0
    cs = np.cumsum(seg)
    s_local = cs - np.repeat(cs[start], n)
    total = s_local[start + n - 1]
    offset = np.concatenate([[0.0], np.cumsum(total + 1.0)[:-1]])  # gaps keep xp increasing
    s_glob = s_local + np.repeat(offset, n) + np.arange(len(P)) * 1e-9
    m = np.maximum(2, np.ceil(total / step).astype(int) + 1)
    frac = np.arange(m.sum()) - np.repeat(np.concatenate([[0], np.cumsum(m)[:-1]]), m)
    t = np.repeat(offset, m) + frac / np.repeat(m - 1, m) * np.repeat(total, m)
    out = np.stack([np.interp(t, s_glob, P[:, 0]), np.interp(t, s_glob, P[:, 1])], 1)
    return np.split(out, np.cumsum(m)[:-1])
