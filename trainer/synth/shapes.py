"""Procedural line sources: curves, shapes and objects.

Every source is ``fn(rng, cx, cy, s, lw) -> Element``: a drawing centred near (cx, cy), about
``s`` pixels across, for target lines ``lw`` px wide (sources leave out detail that would
clog at that width).
"""

from __future__ import annotations

import cv2
import numpy as np

from .curves import Element, Stroke, bezier, catmull_rom, ellipse, rotate


def _hull(pts: np.ndarray) -> np.ndarray:
    return cv2.convexHull(np.asarray(pts, np.float32)).reshape(-1, 2).astype(np.float64)


def _walk(rng, start, n, step, turn):
    """Smooth random walk: control points for a flowing curve."""
    ang = rng.uniform(0, 2 * np.pi)
    pts = [np.asarray(start, np.float64)]
    for _ in range(n - 1):
        ang += rng.normal(0, turn)
        pts.append(pts[-1] + step * rng.uniform(0.6, 1.3) * np.array([np.cos(ang), np.sin(ang)]))
    return np.array(pts)


def flowing_curves(rng, cx, cy, s, lw=2.5) -> Element:
    """A few free-hand curves (gesture lines, abstract doodles)."""
    el = Element()
    for _ in range(rng.integers(1, 6)):
        start = (cx + rng.uniform(-0.4, 0.4) * s, cy + rng.uniform(-0.4, 0.4) * s)
        n = int(rng.integers(3, 8))
        ctrl = _walk(rng, start, n, s / n * rng.uniform(0.6, 1.2), rng.uniform(0.2, 1.0))
        el.lines.append(Stroke(catmull_rom(ctrl), rng.uniform(0.8, 1.2)))
    return el


def ellipses(rng, cx, cy, s, lw=2.5) -> Element:
    """Circles, ellipses and arcs, sometimes concentric (wheels, eyes, plates)."""
    el = Element()
    n = int(rng.integers(1, 4))
    concentric = rng.random() < 0.4
    rot = rng.uniform(0, np.pi)
    for i in range(n):
        if concentric:
            rx = s * 0.5 * (1 - 0.25 * i)
            ry, x, y = rx * rng.uniform(0.3, 1.0), cx, cy
        else:
            rx = s * rng.uniform(0.12, 0.5)
            ry = rx * rng.uniform(0.3, 1.0)
            x, y = cx + rng.uniform(-0.3, 0.3) * s, cy + rng.uniform(-0.3, 0.3) * s
            rot = rng.uniform(0, np.pi)
        if rng.random() < 0.7:
            el.lines.append(Stroke(ellipse(x, y, rx, ry, rot), rng.uniform(0.8, 1.2)))
            if i == 0:
                el.fills.append(ellipse(x, y, rx, ry, rot))
        else:
            t0 = rng.uniform(0, 2 * np.pi)
            el.lines.append(Stroke(ellipse(x, y, rx, ry, rot, t0, t0 + rng.uniform(1, 4))))
    return el


def polygons(rng, cx, cy, s, lw=2.5) -> Element:
    """Polygons, stars, zigzags and open polylines."""
    el = Element()
    kind = rng.integers(0, 3)
    if kind == 0:  # regular-ish polygon / star
        k = int(rng.integers(3, 9))
        star = rng.random() < 0.35
        m = 2 * k if star else k
        t = np.linspace(0, 2 * np.pi, m, endpoint=False) + rng.uniform(0, np.pi)
        r = s * 0.5 * rng.uniform(0.85, 1.0, m)
        if star:
            r[1::2] *= rng.uniform(0.35, 0.6)
        p = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)
        el.lines.append(Stroke(np.concatenate([p, p[:1]])))
        el.fills.append(p)
    elif kind == 1:  # zigzag / open polyline
        n = int(rng.integers(3, 9))
        x = np.linspace(-0.5, 0.5, n) * s
        y = rng.uniform(-0.25, 0.25, n) * s
        p = rotate(np.stack([cx + x, cy + y], 1), rng.uniform(0, np.pi), (cx, cy))
        el.lines.append(Stroke(p))
    else:  # rectangles, possibly nested or subdivided (windows, frames, panels)
        w, h = s * rng.uniform(0.4, 1.0), s * rng.uniform(0.4, 1.0)
        ang = rng.normal(0, 0.05) if rng.random() < 0.8 else rng.uniform(0, np.pi)
        rect = np.array([[-w, -h], [w, -h], [w, h], [-w, h], [-w, -h]]) / 2 + (cx, cy)
        el.lines.append(Stroke(rotate(rect, ang, (cx, cy)), 1.1))
        el.fills.append(rotate(rect[:4], ang, (cx, cy)))
        if rng.random() < 0.5:
            m = rng.uniform(0.05, 0.15) * min(w, h)
            inner = np.array([[-w, -h], [w, -h], [w, h], [-w, h], [-w, -h]]) / 2
            inner = inner - np.sign(inner) * m + (cx, cy)
            el.lines.append(Stroke(rotate(inner, ang, (cx, cy)), 0.9))
        nx, ny = rng.integers(0, 4), rng.integers(0, 4)
        for i in range(1, nx + 1):
            x = cx - w / 2 + w * i / (nx + 1)
            p = np.array([[x, cy - h / 2], [x, cy + h / 2]])
            el.lines.append(Stroke(rotate(p, ang, (cx, cy)), 0.85))
        for i in range(1, ny + 1):
            y = cy - h / 2 + h * i / (ny + 1)
            p = np.array([[cx - w / 2, y], [cx + w / 2, y]])
            el.lines.append(Stroke(rotate(p, ang, (cx, cy)), 0.85))
    return el


def _project(v, yaw, pitch, dist, f, cx, cy):
    c, s_ = np.cos(yaw), np.sin(yaw)
    x, y, z = v[:, 0] * c + v[:, 2] * s_, v[:, 1], -v[:, 0] * s_ + v[:, 2] * c
    c, s_ = np.cos(pitch), np.sin(pitch)
    y, z = y * c - z * s_, y * s_ + z * c
    z = z + dist
    return np.stack([cx + f * x / z, cy + f * y / z], 1), np.stack([x, y, z], 1)


_BOX_FACES = [(0, 1, 2, 3), (4, 7, 6, 5), (0, 4, 5, 1), (3, 2, 6, 7), (0, 3, 7, 4), (1, 5, 6, 2)]


def boxes(rng, cx, cy, s, lw=2.5) -> Element:
    """Perspective boxes (crates, books, buildings, furniture) with construction lines."""
    el = Element()
    yaw, pitch = rng.uniform(0, 2 * np.pi), rng.uniform(-0.7, 0.7)
    dist = rng.uniform(1.6, 6.0)
    f = s * dist * rng.uniform(0.45, 0.7)
    n = int(rng.choice([1, 1, 1, 2, 3]))
    base = np.zeros(3)
    for _ in range(n):
        dims = rng.uniform(0.25, 1.0, 3)
        dims /= dims.max()
        lo, hi = base - dims / 2, base + dims / 2
        v = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        v = v[[0, 4, 6, 2, 1, 5, 7, 3]]  # cube order: bottom-ish quad then top-ish quad
        p2, p3 = _project(v, yaw, pitch, dist, f, cx, cy)
        edges = set()
        centre = p3.mean(0)
        for face in _BOX_FACES:
            q = p3[list(face)]
            nrm = np.cross(q[1] - q[0], q[2] - q[0])
            nrm *= np.sign(np.dot(nrm, q.mean(0) - centre))  # point outwards
            if np.dot(nrm, -q.mean(0)) > 0:  # faces the camera (at the origin)
                for a, b in zip(face, face[1:] + face[:1], strict=True):
                    edges.add((min(a, b), max(a, b)))
        for a, b in edges:
            seg = np.array([p2[a], p2[b]])
            el.lines.append(Stroke(seg, rng.uniform(0.9, 1.15)))
            if rng.random() < 0.5:  # extend towards the vanishing point
                d = seg[1] - seg[0]
                ext = rng.uniform(0.2, 1.0)
                el.guides.append(np.array([seg[0] - d * ext * rng.random(), seg[1] + d * ext]))
        el.fills.append(_hull(p2))
        base = base + rng.uniform(-0.6, 0.6, 3) * np.array([1, 0, 1])
        base[1] -= rng.uniform(0.4, 0.9)
    return el


def vessel(rng, cx, cy, s, lw=2.5) -> Element:
    """Cups, vases, bottles, cans: a profile revolved around a vertical axis."""
    el = Element()
    h = s * rng.uniform(0.6, 1.0)
    k = rng.uniform(0.12, 0.4)  # ellipse flattening (viewing angle)
    n = int(rng.integers(2, 6))
    radii = s * rng.uniform(0.12, 0.4) * np.clip(rng.normal(1, 0.35, n), 0.25, 1.6)
    if rng.random() < 0.4:
        radii[:] = radii[0]
    ys = np.linspace(cy - h / 2, cy + h / 2, n)
    prof = catmull_rom(np.stack([radii, ys], 1), px_per_sample=4)
    r, y = np.maximum(prof[:, 0], 3), prof[:, 1]
    tilt = rng.normal(0, 0.08)
    right = rotate(np.stack([cx + r, y], 1), tilt, (cx, cy))
    left = rotate(np.stack([cx - r, y], 1), tilt, (cx, cy))
    el.lines += [Stroke(right), Stroke(left)]
    top = rotate(ellipse(cx, y[0], r[0], r[0] * k), tilt, (cx, cy))
    el.lines.append(Stroke(top))
    if rng.random() < 0.5:
        el.lines.append(
            Stroke(rotate(ellipse(cx, y[0], r[0] * 0.85, r[0] * k * 0.8), tilt, (cx, cy)), 0.8)
        )
    bottom = rotate(ellipse(cx, y[-1], r[-1], r[-1] * k, 0, 0, np.pi), tilt, (cx, cy))
    el.lines.append(Stroke(bottom))
    for _ in range(rng.integers(0, 3)):  # decorative bands
        i = int(rng.integers(1, len(y) - 1))
        el.lines.append(
            Stroke(rotate(ellipse(cx, y[i], r[i], r[i] * k, 0, 0, np.pi), tilt, (cx, cy)), 0.8)
        )
    if rng.random() < 0.4:  # handle
        side = rng.choice([-1, 1])
        i0, i1 = int(len(y) * 0.2), int(len(y) * 0.65)
        a, b = (right if side > 0 else left)[i0], (right if side > 0 else left)[i1]
        out = side * s * rng.uniform(0.15, 0.3)
        for off in (0.0, 0.35):
            c = bezier(a, a + (out * (1 - off), 0), b + (out * (1 - off), 0), b)
            el.lines.append(Stroke(c, 0.95))
    el.guides.append(
        rotate(np.array([[cx, y[0] - 0.2 * h], [cx, y[-1] + 0.2 * h]]), tilt, (cx, cy))
    )
    el.fills.append(np.concatenate([right, left[::-1]]))
    return el


def bumpy(rng, cx, cy, s, lw=2.5) -> Element:
    """Rocks, clouds, bushes: closed bumpy outlines with a few inner lines."""
    el = Element()
    m = int(rng.integers(6, 14))
    t = np.sort(rng.uniform(0, 2 * np.pi, m))
    r = s * 0.5 * rng.uniform(0.6, 1.0, m)
    p = np.stack([cx + r * np.cos(t), cy + 0.7 * r * np.sin(t)], 1)
    if rng.random() < 0.5:  # cloud: scalloped arcs between points
        pts = []
        for a, b in zip(p, np.roll(p, -1, 0), strict=True):
            mid, d = (a + b) / 2, b - a
            nrm = np.array([d[1], -d[0]])
            bulge = mid + nrm * rng.uniform(0.2, 0.5) * np.sign(np.dot(nrm, mid - (cx, cy)))
            pts.append(catmull_rom([a, bulge, b])[:-1])
        outline = np.concatenate(pts + [p[:1]])
    else:
        outline = catmull_rom(p, closed=True)
    el.lines.append(Stroke(outline, 1.1))
    el.fills.append(outline)
    for _ in range(rng.integers(0, 4)):
        i = int(rng.integers(0, len(outline)))
        a = outline[i]
        b = a + (np.array([cx, cy]) - a) * rng.uniform(0.2, 0.6)
        el.lines.append(Stroke(catmull_rom([a, (a + b) / 2 + rng.normal(0, 0.05 * s, 2), b]), 0.8))
    return el


def hair_bundle(rng, cx, cy, s, lw=2.5) -> Element:
    """Clumps of roughly parallel flowing strands (hair, fur, grass, flames)."""
    el = Element()
    n_ctrl = 4
    spine = _walk(rng, (cx - 0.3 * s, cy - 0.3 * s), n_ctrl, s / 3, rng.uniform(0.2, 0.7))
    spine -= spine.mean(0) - (cx, cy)
    base = catmull_rom(spine, px_per_sample=4)
    d = np.gradient(base, axis=0)
    nrm = np.stack([-d[:, 1], d[:, 0]], 1) / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    u = np.linspace(0, 1, len(base))[:, None]
    width = s * rng.uniform(0.15, 0.45)
    n = int(np.clip(rng.integers(5, 20), 3, max(3, width / (2.5 * lw))))
    clumps = rng.uniform(-0.5, 0.5, max(1, n // 4)) * width
    for _ in range(n):
        o0 = rng.uniform(-0.5, 0.5) * width
        o1 = rng.choice(clumps) + rng.normal(0, 0.03 * width)
        a, b = rng.uniform(0, 0.3), rng.uniform(0.6, 1.0)
        off = (
            o0 * (1 - u) + o1 * u + np.sin(u * np.pi * rng.uniform(1, 3)) * rng.normal(0, 0.04 * s)
        )
        strand = base + nrm * off
        i0, i1 = int(a * len(base)), max(int(a * len(base)) + 2, int(b * len(base)))
        el.lines.append(Stroke(strand[i0:i1], rng.uniform(0.6, 1.0), rng.uniform(0.7, 1.0)))
    return el


def plant(rng, cx, cy, s, lw=2.5) -> Element:
    """A stem with leaves."""
    el = Element()
    stem = catmull_rom(_walk(rng, (cx, cy + 0.5 * s), 4, s / 3.2, 0.3))
    stem -= stem.mean(0) - (cx, cy)
    el.lines.append(Stroke(stem, 1.05))
    for _ in range(rng.integers(2, 8)):
        i = int(rng.integers(1, len(stem) - 1))
        a = stem[i]
        ang = np.arctan2(*(stem[i + 1] - stem[i - 1])[::-1]) + rng.choice([-1, 1]) * rng.uniform(
            0.5, 1.3
        )
        length = s * rng.uniform(0.15, 0.4)
        tip = a + length * np.array([np.cos(ang), np.sin(ang)])
        nrm = np.array([-np.sin(ang), np.cos(ang)]) * length * rng.uniform(0.2, 0.4)
        side1 = bezier(a, a + (tip - a) * 0.3 + nrm, tip - (tip - a) * 0.2 + nrm * 0.6, tip)
        side2 = bezier(a, a + (tip - a) * 0.3 - nrm, tip - (tip - a) * 0.2 - nrm * 0.6, tip)
        el.lines += [Stroke(side1, 0.9), Stroke(side2, 0.9)]
        if rng.random() < 0.6:
            el.lines.append(Stroke(np.array([a, a + (tip - a) * 0.8]), 0.6, 0.7))
        el.fills.append(np.concatenate([side1, side2[::-1]]))
    return el


def drapery(rng, cx, cy, s, lw=2.5) -> Element:
    """Cloth: a wavy hem and folds radiating from tension points."""
    el = Element()
    ang = rng.uniform(-0.4, 0.4) + (np.pi / 2 if rng.random() < 0.2 else 0)
    x = np.linspace(-0.5, 0.5, int(rng.integers(4, 9))) * s
    y = 0.4 * s + rng.normal(0, 0.06 * s, len(x))
    hem = rotate(np.stack([cx + x, cy + y], 1), ang, (cx, cy))
    el.lines.append(Stroke(catmull_rom(hem), 1.1))
    side_l = rotate(
        np.array([[cx - 0.45 * s, cy - 0.5 * s], [cx - 0.5 * s, cy + y[0]]]), ang, (cx, cy)
    )
    side_r = rotate(
        np.array([[cx + 0.45 * s, cy - 0.5 * s], [cx + 0.5 * s, cy + y[-1]]]), ang, (cx, cy)
    )
    el.lines += [
        Stroke(catmull_rom([side_l[0], side_l.mean(0) + rng.normal(0, 5, 2), side_l[1]])),
        Stroke(catmull_rom([side_r[0], side_r.mean(0) + rng.normal(0, 5, 2), side_r[1]])),
    ]
    for _ in range(rng.integers(1, 3)):
        tp = np.array([cx + rng.uniform(-0.35, 0.35) * s, cy - rng.uniform(0.2, 0.5) * s])
        for _ in range(rng.integers(2, 6)):
            end = rotate(
                np.array([[cx + rng.uniform(-0.45, 0.45) * s, cy + 0.35 * s]]), ang, (cx, cy)
            )[0]
            a = tp + (end - tp) * rng.uniform(0, 0.25)
            b = tp + (end - tp) * rng.uniform(0.55, 1.0)
            mid = (a + b) / 2 + rng.normal(0, 0.05 * s, 2)
            el.lines.append(Stroke(catmull_rom([a, mid, b]), rng.uniform(0.7, 1.0), 0.9))
    el.fills.append(np.concatenate([side_l, hem, side_r[::-1]]))
    return el
