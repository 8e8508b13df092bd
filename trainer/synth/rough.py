"""Render a pencil rough of a drawing: graphite density in [0, 1] (0 = bare paper).

The target lines are redrawn as several jittered, wobbling passes with overshoot, gaps,
feathered segments, tapered pressure and grainy graphite. Under them go marks that are not
in the target: construction lines, ghost lines of earlier attempts, stray marks, hatching,
rubbed shading; then eraser passes and smudges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .curves import Stroke, catmull_rom, resample
from .render import SHIFT, to_cv

N_MAIN_LAYERS = 3
LEVELS = 16  # pressure quantisation of draw calls
RSS = 2  # the rough is drawn at RSS x resolution (fine grain, crisp thin lines), then reduced


@dataclass
class RoughStyle:
    passes: float = 1.5  # mean number of extra passes per line
    jitter: float = 1.0  # px, offset between passes
    wobble: float = 1.0  # px, low-frequency wobble amplitude
    rotate: float = 0.01  # rad, per-pass rotation about the line's centre
    overshoot: float = 4.0  # px, mean overshoot past line ends
    gap: float = 0.15  # probability that a pass stops short of an end
    feather: float = 0.3  # probability that a pass is made of several short strokes
    pressure: float = 0.8  # mean pressure of target lines
    pressure_var: float = 0.25  # spread of pressure between passes and along lines
    thick: float = 3.0  # mean width of a pass, px at RSS x resolution (soft leads: wider)
    soft: float = 1.5  # lead softness: >1 darkens (ink = 1 - (1 - ink) ** soft)
    grain: float = 0.6  # graphite grain (0 = solid)
    guides: float = 0.5  # construction lines: fraction kept, and their pressure
    ghosts: float = 0.2  # fraction of lines with a faint earlier attempt beside them
    stray: float = 0.3  # stray marks per 100 lines, x10
    long_stray: float = 0.0  # long light arcs across the page (slips, trial arcs)
    hatch: float = 0.3  # amount of hatching
    hatch_angle: float = 1.0  # the artist's favourite hatching direction (rad)
    tone: float = 0.0  # rubbed shading
    smudge: float = 0.0
    eraser: float = 0.0
    blue: bool = False  # construction in (non-photo) blue pencil: separate soft layer


def sample_style(rng: np.random.Generator, roughness: float | None = None) -> RoughStyle:
    """Random style; each effect's strength is drawn separately, scaled by ``roughness``."""
    r = rng.uniform(0.2, 1.0) ** 0.6 if roughness is None else roughness

    def on(p, lo, hi):
        return rng.uniform(lo, hi) * r if rng.random() < p else 0.0

    return RoughStyle(
        passes=rng.uniform(1.0, 5.0) * r,  # 2-6 passes on a rough page
        jitter=rng.uniform(0.5, 2.0) * r,
        wobble=rng.uniform(0.3, 2.0) * r,
        rotate=rng.uniform(0.0, 0.03) * r,
        overshoot=rng.uniform(0.0, 12.0) * r,
        gap=rng.uniform(0.0, 0.4) * r,
        feather=rng.uniform(0.1, 0.9) * r,
        pressure=rng.uniform(0.7, 1.0),
        pressure_var=rng.uniform(0.05, 0.3),
        thick=rng.uniform(1.6, 3.6),
        soft=rng.uniform(1.0, 2.2),
        grain=rng.uniform(0.2, 1.2),
        guides=on(0.75, 0.2, 1.0),
        ghosts=on(0.5, 0.05, 0.5),
        stray=on(0.6, 0.1, 1.0),
        long_stray=on(0.35, 0.3, 1.0),
        hatch=on(0.85, 0.2, 1.5),
        hatch_angle=rng.uniform(0, np.pi),
        tone=on(0.3, 0.1, 0.6),
        smudge=on(0.35, 0.1, 0.6),
        eraser=on(0.35, 0.2, 1.0),
        blue=bool(rng.random() < 0.12),
    )


# ------------------------------------------------------------------ textures ----
@lru_cache(maxsize=4)
def _tooth_bank(size: int) -> np.ndarray:
    """Fixed paper-tooth textures (deterministic), larger than the canvas for random crops."""
    g = np.random.default_rng(20240611)
    n = size + 64
    out = []
    for fine, fiber in ((0.6, 5), (0.8, 9)):
        a = cv2.GaussianBlur(g.standard_normal((n, n)).astype(np.float32), (0, 0), fine)
        b = cv2.blur(g.standard_normal((n, n)).astype(np.float32), (1, fiber))
        t = a / a.std() + 0.5 * b / b.std()
        t = 1 / (1 + np.exp(-1.3 * t))  # roughly uniform in (0, 1)
        out.append(t.astype(np.float32))
    return np.stack(out)


def tooth(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random crop/flip of a fixed paper-tooth texture, in (0, 1)."""
    bank = _tooth_bank(size)
    t = bank[int(rng.integers(len(bank)))]
    y, x = rng.integers(0, 64, 2)
    t = t[y : y + size, x : x + size]
    k = int(rng.integers(8))
    if k & 1:
        t = t[::-1]
    if k & 2:
        t = t[:, ::-1]
    if k & 4:
        t = t.T
    return t


def lowfreq(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth random field in [0, 1]."""
    g = rng.random((cells, cells)).astype(np.float32)
    return cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def blob(rng: np.random.Generator, size: int, cx, cy, r, sharp=2.0) -> np.ndarray:
    """Soft irregular blob mask in [0, 1]."""
    f = 4  # drawn and blurred at 1/4 resolution
    small = (size + f - 1) // f
    m = np.zeros((small, small), np.float32)
    k = 9
    t = np.linspace(0, 2 * np.pi, k, endpoint=False)
    rr = r * rng.uniform(0.5, 1.0, k)
    asp = rng.uniform(0.3, 1.0)
    ang = rng.uniform(0, np.pi)
    x, y = rr * np.cos(t), asp * rr * np.sin(t)
    p = np.stack(
        [cx + x * np.cos(ang) - y * np.sin(ang), cy + x * np.sin(ang) + y * np.cos(ang)], 1
    )
    cv2.fillPoly(m, [to_cv(catmull_rom(p, closed=True) / f)], 1.0, cv2.LINE_AA, SHIFT)
    soft = cv2.GaussianBlur(m, (0, 0), max(r / sharp / 2 / f, 0.5))
    return cv2.resize(soft, (small * f, small * f), interpolation=cv2.INTER_LINEAR)[:size, :size]


# ---------------------------------------------------------------- draw lists ----
class Layers:
    """Batched cv2 drawing: pieces grouped per (layer, pressure level, thickness)."""

    def __init__(self, n: int):
        self.groups: list[dict[tuple[int, int], list[np.ndarray]]] = [{} for _ in range(n)]

    def add(self, layer: int, poly: np.ndarray, pressure: float, thick: int):
        lv = int(min(max(pressure, 0.0), 1.0) * (LEVELS - 1) + 0.5)
        if lv:
            self.groups[layer].setdefault((lv, thick), []).append(poly)

    def render(self, layer: int, size: int) -> np.ndarray:
        """The layer at RSS x resolution (uint8, 255 = full pressure)."""
        img = np.zeros((size * RSS, size * RSS), np.uint8)
        for (lv, t), polys in sorted(self.groups[layer].items()):  # light first, dark on top
            cv2.polylines(img, polys, False, int(lv * 255 / (LEVELS - 1)), t, cv2.LINE_AA, SHIFT)
        return img


# --------------------------------------------------------------- main passes ----
def _batch(lines: list[np.ndarray]):
    """Concatenate polylines; per point: stroke id, arc length, unit tangent."""
    n = np.array([len(p) for p in lines])
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    P = np.concatenate(lines)
    sid = np.repeat(np.arange(len(lines)), n)
    d = np.zeros_like(P)
    d[1:] = P[1:] - P[:-1]
    d[start] = 0
    seg = np.sqrt((d**2).sum(1))
    cs = np.cumsum(seg)
    s = cs - np.repeat(cs[start], n)
    fwd = np.zeros_like(P)
    fwd[:-1] = d[1:]
    last = start + n - 1
    fwd[last] = d[last]
    tang = d + fwd
    tang[start] = fwd[start]
    tang /= np.maximum(np.sqrt((tang**2).sum(1, keepdims=True)), 1e-9)
    centre = np.add.reduceat(P, start) / n[:, None]
    return P, sid, s, tang, n, start, centre


def jittered_passes(rng, lines: list[np.ndarray], k: np.ndarray, st: RoughStyle, scale: np.ndarray):
    """Each line i redrawn k[i] times: offset, rotated, wobbled; ends extended or cut.

    ``scale`` (per line) multiplies jitter/wobble/overshoot. Returns polylines (float)."""
    P, sid, s, tang, n, start, centre = _batch(lines)
    pid = np.repeat(np.arange(len(lines)), k)  # line of each pass
    q = len(pid)
    if q == 0:
        return []
    ln = n[pid]
    ps = np.concatenate([[0], np.cumsum(ln)[:-1]])
    idx = np.repeat(start[pid] - ps, ln) + np.arange(ln.sum())
    sc = scale[pid]
    off = rng.normal(0, 1, q) * st.jitter * sc
    shift = rng.normal(0, 0.5, (q, 2)) * st.jitter * sc[:, None]
    ang = rng.normal(0, 1, q) * st.rotate
    lam = rng.uniform(25, 140, (q, 2))
    ph = rng.uniform(0, 2 * np.pi, (q, 2))
    amp = rng.normal(0, 1, (q, 2)) * st.wobble * sc[:, None] * 0.7
    pp = np.repeat(np.arange(q), ln)
    sp = s[idx]
    wob = (amp[pp] * np.sin(2 * np.pi * sp[:, None] / lam[pp] + ph[pp])).sum(1) + off[pp]
    t = tang[idx]
    nrm = np.stack([-t[:, 1], t[:, 0]], 1)
    X = P[idx] + nrm * wob[:, None]
    c = centre[pid][pp]
    ca, sa = np.cos(ang)[pp], np.sin(ang)[pp]
    dx, dy = X[:, 0] - c[:, 0], X[:, 1] - c[:, 1]
    X = np.stack([ca * dx - sa * dy, sa * dx + ca * dy], 1) + c + shift[pp]
    # overshoot: move the end points outwards along the tangent
    first, lastp = ps, ps + ln - 1
    ov = rng.exponential(1.0, (q, 2)) * st.overshoot * sc[:, None]
    X[first] -= t[first] * ov[:, :1]
    X[lastp] += t[lastp] * ov[:, 1:]
    return np.split(X, ps[1:])


def draw_lines(
    rng, layers: Layers, polys, pressures, thick, feather, gap, taper=True, layer_of=None
):
    """Add polylines to the draw lists, with gaps, feathering and tapered ends."""
    cv_all = [to_cv(p, RSS) for p in polys]
    r = rng.random((len(polys), 6))
    nl = len(layers.groups)
    for i, (pts, pr) in enumerate(zip(cv_all, pressures, strict=True)):
        layer = (i % nl) if layer_of is None else layer_of
        m = len(pts)
        th = int(min(max(thick + 1.2 * (r[i, 0] - 0.5), 1), 6) + 0.5)  # at RSS x resolution
        a, b = 0, m
        if r[i, 1] < gap and m > 8:  # stops short of one end
            cut = int(m * rng.uniform(0.05, 0.3))
            a, b = (cut, m) if r[i, 2] < 0.5 else (0, m - cut)
        pieces = [(a, b)]
        if r[i, 3] < feather and b - a > 12:  # feathered: short overlapping strokes
            cuts = np.sort(rng.integers(a + 3, b - 3, int(rng.integers(1, 4))))
            bounds = [a, *cuts.tolist(), b]
            pieces = [
                (max(a, x - int(rng.integers(0, 4))), y)
                for x, y in zip(bounds[:-1], bounds[1:], strict=True)
            ]
        for x, y in pieces:
            seg = pts[x:y]
            if len(seg) < 2:
                continue
            if taper and len(seg) >= 10:
                e = max(2, len(seg) // 6)
                layers.add(layer, seg[: e + 1], pr * 0.55, max(1, th - 1))
                layers.add(layer, seg[-e - 1 :], pr * 0.55, max(1, th - 1))
                layers.add(layer, seg[e:-e], pr, th)
            else:
                layers.add(layer, seg, pr * 0.8, max(1, th - 1))


# -------------------------------------------------------------------- extras ----
def hatching(
    rng, lines: list[Stroke], size: int, amount: float, fav: float = 1.0, min_gap: float = 4.5
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Polylines of hatching: along contours (shading beside a line) and free patches.

    Returns ``(distinct, dense)``: groups whose strokes lie at least ``min_gap`` px apart
    stay separate lines in clean art, so they belong in the target; denser groups read as
    tone, which a clean-up drops."""
    distinct: list[np.ndarray] = []
    dense: list[np.ndarray] = []
    if amount <= 0:
        return distinct, dense
    taken = np.zeros((size, size), np.uint8)  # where kept hatching lies already

    def place(group: list[np.ndarray], sparse: bool):
        # overlapping kept groups would clog into a mesh: such a group is tone instead
        if sparse and group:
            m = np.zeros_like(taken)
            cv2.polylines(m, [to_cv(g) for g in group], False, 1, int(min_gap), shift=SHIFT)
            if int((m & taken).sum()) <= 0.1 * int(m.sum()):
                distinct.extend(group)
                taken[:] |= m
                return
        dense.extend(group)

    n_contour = int(rng.poisson(amount * 25))
    for _ in range(n_contour if lines else 0):
        st = lines[int(rng.integers(len(lines)))]
        p = st.pts
        if len(p) < 6:
            continue
        spacing = rng.uniform(1.2, 5.0)  # in units of the 2 px resampling step
        i0 = int(rng.integers(0, max(1, len(p) - 5)))
        i1 = min(len(p), i0 + int(rng.integers(10, 60)))
        ii = np.arange(i0, i1, spacing).astype(int)
        if len(ii) < 2:
            continue
        ang = fav + rng.normal(0, 0.25) if rng.random() < 0.75 else rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)])
        t = p[min(i0 + 1, len(p) - 1)] - p[i0]
        side = np.sign(d[0] * t[1] - d[1] * t[0] + 1e-9) * rng.choice([-1, 1])
        tn = t / max(float(np.hypot(*t)), 1e-9)
        gap = 2.0 * spacing * abs(d[0] * tn[1] - d[1] * tn[0])  # across the strokes
        out: list[np.ndarray] = []
        ln = rng.uniform(5, 28) * rng.uniform(0.5, 1.0, len(ii))
        a = p[ii] + rng.normal(0, 1.0, (len(ii), 2))
        b = a + side * d * ln[:, None]
        if rng.random() < 0.5:  # zig-zag scribble
            z = np.empty((2 * len(ii), 2))
            z[0::2], z[1::2] = a, b
            z[2::4], z[3::4] = b[1::2], a[1::2]
            out.append(z)
        else:
            out += list(np.stack([a, b], 1))
        place(out, gap >= min_gap)
    for _ in range(int(rng.poisson(amount * 6))):  # free patches of parallel strokes
        if lines and rng.random() < 0.8:
            st = lines[int(rng.integers(len(lines)))]
            c = st.pts[int(rng.integers(len(st.pts)))] + rng.normal(0, 6, 2)
        else:
            c = rng.uniform(0, size, 2)
        rad = rng.uniform(6, 45)
        ang = fav + rng.normal(0, 0.25) if rng.random() < 0.75 else rng.uniform(0, np.pi)
        out, sparse = [], True
        for cross in range(2 if rng.random() < 0.3 else 1):
            ang += cross * rng.uniform(0.5, 1.2)
            sp = rng.uniform(2.2, 8)
            sparse &= sp >= min_gap
            offs = np.arange(-rad, rad * rng.uniform(0.3, 1.0), sp)
            if len(offs) < 2:
                continue
            u = offs / rad
            ph = rng.uniform(0, 2 * np.pi, 2)
            half = rad * rng.uniform(0.25, 0.7) * (1 + 0.4 * np.sin(2.2 * u + ph[0]))
            half *= rng.uniform(0.75, 1.0, len(offs))
            mid = rad * 0.4 * np.sin(1.7 * u + ph[1])
            a_ = ang + rng.normal(0, 0.06, len(offs))
            d = np.stack([np.cos(a_), np.sin(a_)], 1)
            nrm = np.array([-np.sin(ang), np.cos(ang)])
            base = c + offs[:, None] * nrm + mid[:, None] * d
            a = base - half[:, None] * d
            b = base + half[:, None] * d
            if rng.random() < 0.4:  # zig-zag scribble
                z = np.empty((2 * len(offs), 2))
                z[0::2], z[1::2] = a, b
                z[2::4], z[3::4] = b[1::2], a[1::2]
                out.append(z)
            else:
                out += list(np.stack([a, b], 1))
        place(out, sparse)
    return distinct, dense


def _near_line(rng, lines: list[Stroke], size: int, spread: float) -> np.ndarray:
    """A point on (or near) a random line, else anywhere."""
    if lines and rng.random() < 0.85:
        st = lines[int(rng.integers(len(lines)))]
        return st.pts[int(rng.integers(len(st.pts)))] + rng.normal(0, spread, 2)
    return rng.uniform(0, size, 2)


def stray_marks(rng, lines: list[Stroke], size: int, amount: float):
    out = []
    n = int(rng.poisson(amount * (3 + len(lines) * 0.15)))
    for _ in range(n):
        if lines and rng.random() < 0.8:
            st = lines[int(rng.integers(len(lines)))]
            c = st.pts[int(rng.integers(len(st.pts)))] + rng.normal(0, 8, 2)
        else:
            c = rng.uniform(0, size, 2)
        ln = rng.uniform(4, 40)
        ang = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(ang), np.sin(ang)]) * ln
        mid = c + d / 2 + rng.normal(0, ln * 0.15, 2)
        out.append(catmull_rom([c, mid, c + d]))
    return out


def long_strays(rng, size: int, amount: float) -> list[np.ndarray]:
    """Long, light arcs across the page: a slipped hand or a trial sweep, never drawing."""
    out = []
    for _ in range(int(rng.poisson(amount * 1.5))):
        a = rng.uniform(0, size, 2)
        ang = rng.uniform(0, 2 * np.pi)
        ln = size * rng.uniform(0.3, 1.0)
        d = np.array([np.cos(ang), np.sin(ang)]) * ln
        bend = np.array([-d[1], d[0]]) * rng.uniform(-0.25, 0.25)
        out.append(catmull_rom([a, a + d / 2 + bend, a + d]))
    return out


# -------------------------------------------------------------------- render ----
def render_rough(
    rng: np.random.Generator,
    lines: list[Stroke],
    guides: list[np.ndarray],
    size: int,
    st: RoughStyle,
    tone_hatching: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Graphite density of the rough (float32, [0, 1]) and of an optional blue-pencil layer.

    ``tone_hatching``: hatching too dense to keep as lines (``hatching``'s second list),
    drawn under the lines as shading that the target leaves out."""
    layers = Layers(N_MAIN_LAYERS + 1)
    under = N_MAIN_LAYERS
    # -- target lines: k passes each
    if lines:
        pts = [ln.pts for ln in lines]
        k = 1 + rng.poisson(st.passes * np.array([ln.passes for ln in lines]))
        weight = np.array([ln.weight for ln in lines])
        length = np.array([len(p) for p in pts]) * 2.0
        scale = np.clip(np.sqrt(length / 60), 0.4, 1.8)  # long lines wander more
        scale *= np.array([ln.jitter for ln in lines])
        polys = jittered_passes(rng, pts, k, st, scale)
        pr = st.pressure * np.repeat(weight, k) * np.exp(rng.normal(0, st.pressure_var, len(polys)))
        draw_lines(rng, layers, polys, np.clip(pr, 0.35, 1), st.thick, st.feather, st.gap)
    # -- construction lines
    guide_polys = []
    if st.guides > 0 and guides:
        keep = [g for g in guides if rng.random() < 0.4 + 0.6 * st.guides]
        keep = [resample(g, 3.0) for g in keep]
        if keep:
            sty = RoughStyle(jitter=1.5, wobble=1.5, rotate=0.01, overshoot=10.0)
            guide_polys = jittered_passes(
                rng, keep, np.ones(len(keep), int), sty, np.ones(len(keep))
            )
    if guide_polys and not st.blue:
        pr = rng.uniform(0.15, 0.45) * (0.5 + 0.5 * st.guides) * np.ones(len(guide_polys))
        draw_lines(rng, layers, guide_polys, pr, 1.8, 0.3, 0.2, layer_of=under)
    # -- ghost lines: faint earlier attempts beside the final line
    if st.ghosts > 0 and lines:
        sel = [ln for ln in lines if rng.random() < st.ghosts]
        if sel:
            sty = RoughStyle(jitter=4.0, wobble=3.0, rotate=0.04, overshoot=6.0)
            polys = jittered_passes(
                rng, [ln.pts for ln in sel], np.ones(len(sel), int), sty, np.ones(len(sel))
            )
            pr = rng.uniform(0.1, 0.35, len(polys))
            draw_lines(rng, layers, polys, pr, 2.0, 0.3, 0.3, layer_of=under)
    # -- hatching and stray marks
    hat = tone_hatching or []
    if hat:
        hat_pressure = rng.uniform(0.25, 0.7)
        pr = hat_pressure * np.exp(rng.normal(0, 0.25, len(hat)))
        draw_lines(rng, layers, hat, pr, rng.uniform(1.5, 3), 0.0, 0.0, taper=False, layer_of=under)
    strays = stray_marks(rng, lines, size, st.stray)
    if strays:
        draw_lines(
            rng, layers, strays, rng.uniform(0.2, 0.8, len(strays)), 2.5, 0.0, 0.0, layer_of=under
        )
    arcs = long_strays(rng, size, st.long_stray)
    if arcs:
        pr = rng.uniform(0.12, 0.4, len(arcs))
        draw_lines(rng, layers, arcs, pr, 2.0, 0.2, 0.2, layer_of=under)
    # -- composite at RSS x: passes accumulate, graphite catches on the paper's tooth
    big = size * RSS
    base = 1 - 2 * tooth(rng, big)
    main8 = layers.render(0, size)
    for i in range(1, N_MAIN_LAYERS):  # screen blend: 1 - (1 - a) * (1 - b), in uint8
        layer8 = layers.render(i, size)
        main8 = cv2.subtract(cv2.add(main8, layer8), cv2.multiply(main8, layer8, scale=1 / 255))
    under8 = layers.render(N_MAIN_LAYERS, size)
    out = []
    for v8, g in ((main8, 0.5 * st.grain), (under8, st.grain)):
        # mean-preserving grain, strongest at mid pressure: light strokes look broken,
        # heavy ones fill in.  v += 2g * v * (1 - v) * (1 - 2 * tooth)
        v = v8.astype(np.float32) * (1 / 255)
        w = v - v * v
        w *= base
        w *= 2 * g
        v += w
        out.append(cv2.resize(v, (size, size), interpolation=cv2.INTER_AREA).clip(0, 1))
    ink_main, ink_under = out
    ink_main = 1 - (1 - ink_main) ** st.soft
    ink_main *= 1 - st.pressure_var * lowfreq(rng, size, int(rng.integers(3, 9)))
    if st.tone > 0:  # rubbed graphite shading
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = _near_line(rng, lines, size, 10)
            m = blob(rng, size, cx, cy, rng.uniform(15, 60))
            t = np.clip(m * st.tone * 0.4 * (1.3 - tooth(rng, size)), 0, 1)
            ink_under = 1 - (1 - ink_under) * (1 - t)
    if st.eraser > 0:  # erased areas: under-drawing lifted, a little graphite smeared
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(0, size, 2)
            m = blob(rng, size, cx, cy, rng.uniform(20, 90), sharp=4.0)
            smear = cv2.GaussianBlur(ink_under, (0, 0), 4) * 0.25
            e = m * st.eraser
            ink_under = ink_under * (1 - 0.9 * e) + smear * e
            ink_main = ink_main * (1 - 0.25 * e * rng.random())
    ink = 1 - (1 - ink_main) * (1 - ink_under)
    if st.smudge > 0:  # side-of-the-hand smudges
        for _ in range(int(rng.integers(1, 3))):
            cx, cy = _near_line(rng, lines, size, 10)
            m = blob(rng, size, cx, cy, rng.uniform(15, 70))
            sig = rng.uniform(2, 5)
            sm = cv2.GaussianBlur(ink, (0, 0), sig, sigmaY=sig * rng.uniform(0.3, 1.0))
            ink = np.maximum(ink, sm * m * st.smudge)
    blue = None
    if st.blue and guide_polys:
        bl = Layers(1)
        extra = stray_marks(rng, lines, size, 1.0)
        draw_lines(
            rng,
            bl,
            guide_polys + extra,
            rng.uniform(0.5, 1.0, len(guide_polys) + len(extra)),
            4.0,
            0.2,
            0.2,
            layer_of=0,
        )
        blue = cv2.resize(bl.render(0, size), (size, size), interpolation=cv2.INTER_AREA)
        blue = cv2.GaussianBlur(blue.astype(np.float32) * (1 / 255), (0, 0), 0.8)
    return ink.astype(np.float32), blue
