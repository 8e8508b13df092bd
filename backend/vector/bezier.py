"""Cubic Bézier fitting of a traced polyline under an error tolerance.

Schneider's algorithm ("An Algorithm for Automatically Fitting Digitized Curves", Graphics
Gems, 1990): least-squares cubic with fixed end tangents, Newton re-parameterisation, split at
the worst point with a shared tangent. No maintained Python package provides it (the PyPI
ports are unmaintained demo code). A page holds tens of thousands of strokes and the fit
works point by point, so it is compiled with numba (as skan's graph code is): per-segment
numpy calls cost 40× more.

A segment is a (4, 2) array of control points; a path is an (n, 4, 2) array of segments.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NEWTON_STEPS = 4
NEWTON_REACH = 4.0  # try re-parameterising when the error is within this × tolerance
TANGENT_REACH = 3  # points each side used to estimate a tangent (pixel chains are jagged)


def evaluate(segment: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Points of one cubic at parameters u."""
    m = 1.0 - u
    basis = np.stack([m**3, 3 * m * m * u, 3 * m * u * u, u**3], axis=1)
    return basis @ segment


def sample(segments: np.ndarray, step: float = 0.5) -> np.ndarray:
    """A polyline through a path about every `step` px (for drawing and measuring)."""
    if len(segments) == 0:
        return np.zeros((0, 2))
    out = [segments[0, :1]]
    for seg in segments:
        reach = float(np.sum(np.hypot(*np.diff(seg, axis=0).T)))
        u = np.linspace(0.0, 1.0, max(2, int(np.ceil(reach / step)) + 1))[1:]
        out.append(evaluate(seg, u))
    return np.concatenate(out)


@njit(cache=True)
def _generate(p, a, b, u, t1x, t1y, t2x, t2y, seg):
    """Least-squares cubic through p[a] and p[b] with end tangents t1, t2, into seg."""
    c00 = c01 = c11 = x0 = x1 = 0.0
    fx, fy, lx, ly = p[a, 0], p[a, 1], p[b, 0], p[b, 1]
    for i in range(a, b + 1):
        t = u[i]
        m = 1.0 - t
        b0, b1, b2, b3 = m * m * m, 3 * m * m * t, 3 * m * t * t, t * t * t
        a1x, a1y, a2x, a2y = b1 * t1x, b1 * t1y, b2 * t2x, b2 * t2y
        c00 += a1x * a1x + a1y * a1y
        c01 += a1x * a2x + a1y * a2y
        c11 += a2x * a2x + a2y * a2y
        rx = p[i, 0] - (b0 + b1) * fx - (b2 + b3) * lx
        ry = p[i, 1] - (b0 + b1) * fy - (b2 + b3) * ly
        x0 += a1x * rx + a1y * ry
        x1 += a2x * rx + a2y * ry
    det = c00 * c11 - c01 * c01
    chord = np.hypot(lx - fx, ly - fy)
    al1 = al2 = 0.0
    if abs(det) > 1e-12:
        al1 = (x0 * c11 - x1 * c01) / det
        al2 = (c00 * x1 - c01 * x0) / det
    if al1 < 1e-6 * chord or al2 < 1e-6 * chord:  # degenerate: Wu-Barsky heuristic
        al1 = al2 = chord / 3.0
    seg[0, 0], seg[0, 1] = fx, fy
    seg[1, 0], seg[1, 1] = fx + al1 * t1x, fy + al1 * t1y
    seg[2, 0], seg[2, 1] = lx + al2 * t2x, ly + al2 * t2y
    seg[3, 0], seg[3, 1] = lx, ly


@njit(cache=True)
def _point(seg, t):
    m = 1.0 - t
    b0, b1, b2, b3 = m * m * m, 3 * m * m * t, 3 * m * t * t, t * t * t
    x = b0 * seg[0, 0] + b1 * seg[1, 0] + b2 * seg[2, 0] + b3 * seg[3, 0]
    y = b0 * seg[0, 1] + b1 * seg[1, 1] + b2 * seg[2, 1] + b3 * seg[3, 1]
    return x, y


@njit(cache=True)
def _max_error(p, a, b, u, seg):
    """(largest distance of an inner point from the curve at its parameter, where)."""
    worst, at = 0.0, (a + b) // 2
    for i in range(a + 1, b):
        x, y = _point(seg, u[i])
        d = np.hypot(x - p[i, 0], y - p[i, 1])
        if d > worst:
            worst, at = d, i
    return worst, at


@njit(cache=True)
def _newton(p, a, b, u, seg):
    """One Newton-Raphson step of each inner parameter towards its point's closest one."""
    for i in range(a + 1, b):
        t = u[i]
        m = 1.0 - t
        x, y = _point(seg, t)
        qx, qy = x - p[i, 0], y - p[i, 1]
        d1x = 3 * (m * m * (seg[1, 0] - seg[0, 0]) + 2 * m * t * (seg[2, 0] - seg[1, 0]))
        d1x += 3 * t * t * (seg[3, 0] - seg[2, 0])
        d1y = 3 * (m * m * (seg[1, 1] - seg[0, 1]) + 2 * m * t * (seg[2, 1] - seg[1, 1]))
        d1y += 3 * t * t * (seg[3, 1] - seg[2, 1])
        d2x = 6 * (m * (seg[2, 0] - 2 * seg[1, 0] + seg[0, 0]))
        d2x += 6 * t * (seg[3, 0] - 2 * seg[2, 0] + seg[1, 0])
        d2y = 6 * (m * (seg[2, 1] - 2 * seg[1, 1] + seg[0, 1]))
        d2y += 6 * t * (seg[3, 1] - 2 * seg[2, 1] + seg[1, 1])
        den = d1x * d1x + d1y * d1y + qx * d2x + qy * d2y
        if abs(den) > 1e-12:
            u[i] = min(1.0, max(0.0, t - (qx * d1x + qy * d1y) / den))


@njit(cache=True)
def _push(stack, at, a, b, t1x, t1y, t2x, t2y):
    stack[at, 0], stack[at, 1] = a, b
    stack[at, 2], stack[at, 3], stack[at, 4], stack[at, 5] = t1x, t1y, t2x, t2y


@njit(cache=True)
def _fit_run(p, t1x, t1y, t2x, t2y, tolerance, out):
    """Fit all of p (n ≥ 2 distinct points) into out; returns the number of segments."""
    n = p.shape[0]
    u = np.empty(n)
    seg = np.empty((4, 2))
    stack = np.empty((n + 2, 6))
    _push(stack, 0, 0, n - 1, t1x, t1y, t2x, t2y)
    top, count = 1, 0
    while top > 0:
        top -= 1
        a, b = int(stack[top, 0]), int(stack[top, 1])
        s1x, s1y, s2x, s2y = stack[top, 2], stack[top, 3], stack[top, 4], stack[top, 5]
        if b - a == 1:
            third = np.hypot(p[b, 0] - p[a, 0], p[b, 1] - p[a, 1]) / 3.0
            out[count, 0] = p[a]
            out[count, 1, 0], out[count, 1, 1] = p[a, 0] + third * s1x, p[a, 1] + third * s1y
            out[count, 2, 0], out[count, 2, 1] = p[b, 0] + third * s2x, p[b, 1] + third * s2y
            out[count, 3] = p[b]
            count += 1
            continue
        u[a] = 0.0
        for i in range(a + 1, b + 1):
            u[i] = u[i - 1] + np.hypot(p[i, 0] - p[i - 1, 0], p[i, 1] - p[i - 1, 1])
        total = u[b]
        for i in range(a + 1, b + 1):
            u[i] /= total
        _generate(p, a, b, u, s1x, s1y, s2x, s2y, seg)
        error, split = _max_error(p, a, b, u, seg)
        if error > tolerance and error <= NEWTON_REACH * tolerance:
            for _ in range(NEWTON_STEPS):
                _newton(p, a, b, u, seg)
                _generate(p, a, b, u, s1x, s1y, s2x, s2y, seg)
                error, split = _max_error(p, a, b, u, seg)
                if error <= tolerance:
                    break
        if error <= tolerance:
            out[count] = seg
            count += 1
            continue
        cx, cy = p[split - 1, 0] - p[split + 1, 0], p[split - 1, 1] - p[split + 1, 1]
        norm = np.hypot(cx, cy)
        if norm < 1e-12:
            cx, cy = p[split - 1, 0] - p[split, 0], p[split - 1, 1] - p[split, 1]
            norm = np.hypot(cx, cy)
        cx, cy = cx / norm, cy / norm
        _push(stack, top, split, b, -cx, -cy, s2x, s2y)  # the right half waits: order kept
        _push(stack, top + 1, a, split, s1x, s1y, cx, cy)
        top += 2
    return count


def _unit(dx: float, dy: float) -> tuple[float, float]:
    n = math.hypot(dx, dy)
    return (dx / n, dy / n) if n > 1e-12 else (0.0, 0.0)


def tangent(points: np.ndarray, index: int, side: int) -> tuple[float, float]:
    """Unit direction leaving points[index] towards side (+1 later points, -1 earlier)."""
    x, y = points[index]
    far = min(max(index + side * TANGENT_REACH, 0), len(points) - 1)
    for j in (far, index + side):
        if 0 <= j < len(points):
            t = _unit(points[j][0] - x, points[j][1] - y)
            if t != (0.0, 0.0):
                return t
    return (0.0, 0.0)


def fit(points: np.ndarray, tolerance: float, closed: bool = False) -> np.ndarray:
    """Cubic segments (n, 4, 2) within `tolerance` px of every point, through the ends.

    closed: the last point equals the first; the loop gets one tangent there, so it is
    smooth where it closes.
    """
    points = np.asarray(points, dtype=np.float64)
    keep = np.ones(len(points), bool)
    keep[1:] = np.any(np.diff(points, axis=0) != 0, axis=1)
    points = np.ascontiguousarray(points[keep])
    if len(points) < 2:
        return np.zeros((0, 4, 2))
    t1, t2 = tangent(points, 0, 1), tangent(points, len(points) - 1, -1)
    if closed and len(points) > 2:
        before = points[max(0, len(points) - 1 - TANGENT_REACH)]
        after = points[min(len(points) - 1, TANGENT_REACH)]
        through = _unit(after[0] - before[0], after[1] - before[1])
        if through != (0.0, 0.0):
            t1, t2 = through, (-through[0], -through[1])
    if t1 == (0.0, 0.0):
        t1 = _unit(points[-1][0] - points[0][0], points[-1][1] - points[0][1])
    if t2 == (0.0, 0.0):
        t2 = (-t1[0], -t1[1])
    out = np.empty((len(points), 4, 2))
    count = _fit_run(points, t1[0], t1[1], t2[0], t2[1], float(tolerance), out)
    return out[:count].copy()
