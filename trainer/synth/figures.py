"""Procedural line sources for characters: heads with faces and hair, posed figures, hands."""

from __future__ import annotations

import numpy as np

from .curves import Element, Stroke, bezier, catmull_rom, ellipse, rotate


def _rot(el: Element, ang: float, c) -> Element:
    for st in el.lines:
        st.pts = rotate(st.pts, ang, c)
    el.guides = [rotate(g, ang, c) for g in el.guides]
    el.fills = [rotate(f, ang, c) for f in el.fills]
    return el


def _eye(rng, x, y, w, style, side) -> list[Stroke]:
    h = w * rng.uniform(0.35, 0.6) * (1.4 if style == "manga" else 1.0)
    tilt = side * rng.normal(0.06, 0.05)
    a, b = np.array([x - w / 2, y]), np.array([x + w / 2, y])
    upper = bezier(a, a + (w * 0.2, -h), b + (-w * 0.25, -h), b)
    lower = bezier(a + (w * 0.15, 0), a + (w * 0.3, h * 0.5), b + (-w * 0.2, h * 0.45), b)
    out = [Stroke(rotate(upper, tilt, (x, y)), 1.25), Stroke(rotate(lower, tilt, (x, y)), 0.7)]
    r = h * rng.uniform(0.38, 0.55)
    ix = x + rng.normal(0, 0.08) * w
    out.append(Stroke(ellipse(ix, y - h * 0.05, r * 0.85, r, 0, -0.35 * np.pi, 1.35 * np.pi), 0.8))
    if rng.random() < 0.5:
        out.append(Stroke(ellipse(ix, y - h * 0.05, r * 0.3, r * 0.35), 0.7))
    if style == "closed":
        mid = bezier(a, a + (w * 0.3, h * 0.45), b + (-w * 0.3, h * 0.45), b)
        out = [Stroke(rotate(mid, tilt, (x, y)), 1.2)]
    return out


def head(rng, cx, cy, s, lw=2.5) -> Element:
    """A head (front or three-quarter), with eyes, brows, nose, mouth, ears, hair, neck."""
    el = Element()
    rx, ry = s * 0.34, s * 0.44
    turn = rng.uniform(-0.35, 0.35)
    jaw = rng.uniform(0.15, 0.45)
    t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
    x, y = np.cos(t), np.sin(t)
    x = x * (1 - jaw * np.clip(y, 0, 1) ** 1.5)
    y = y + 0.12 * np.clip(y, 0, 1) ** 3
    x = x + turn * 0.25 * np.clip(y, 0, 1)
    outline = catmull_rom(np.stack([cx + rx * x, cy + ry * y], 1), closed=True)
    el.guides.append(ellipse(cx, cy - 0.1 * ry, rx * 1.02, rx * 1.02))
    mid_x = cx + turn * rx
    el.guides.append(
        catmull_rom([[cx + turn * rx * 0.6, cy - ry], [mid_x, cy], [mid_x - turn * 5, cy + ry]])
    )
    eye_y = cy + ry * rng.uniform(-0.05, 0.12)
    el.guides.append(np.array([[cx - rx * 1.1, eye_y], [cx + rx * 1.1, eye_y]]))
    detail = s / lw  # level of detail: features need room between lines
    if detail < 40:
        el.lines.append(Stroke(outline, 1.1))
        el.fills.append(outline)
        if detail >= 22:  # small head: eyes and mouth as single marks
            for side in (-1, 1):
                ex = mid_x + side * rx * 0.45
                el.lines.append(
                    Stroke(
                        catmull_rom(
                            [
                                [ex - rx * 0.15, eye_y],
                                [ex, eye_y - rx * 0.08],
                                [ex + rx * 0.15, eye_y],
                            ]
                        ),
                        0.9,
                    )
                )
            my = cy + ry * 0.5
            el.lines.append(
                Stroke(np.array([[mid_x - rx * 0.2, my], [mid_x + rx * 0.2, my + 1]]), 0.9)
            )
        return _rot(el, rng.normal(0, 0.15), (cx, cy))
    style = rng.choice(["plain", "manga", "closed"], p=[0.5, 0.35, 0.15])
    ew = rx * rng.uniform(0.38, 0.55)
    gap = rx * rng.uniform(0.38, 0.55)
    for side in (-1, 1):
        ex = mid_x + side * gap * (1 + side * turn * 0.6)
        w = ew * (1 - side * turn * 0.5)
        el.lines += _eye(rng, ex, eye_y, w, style, side)
        by = eye_y - ew * rng.uniform(0.6, 1.0)
        brow = catmull_rom([[ex - w * 0.6, by + 2], [ex, by - ew * 0.12], [ex + w * 0.6, by + 1]])
        el.lines.append(Stroke(rotate(brow, side * rng.normal(0.1, 0.1), (ex, by)), 1.0, 0.9))
    ny = eye_y + ry * rng.uniform(0.25, 0.4)
    nx = mid_x + turn * rx * 0.25
    nose = catmull_rom([[nx - 1, ny - ry * 0.2], [nx + turn * 6 + 2, ny - 2], [nx - 4, ny + 2]])
    el.lines.append(Stroke(nose if rng.random() < 0.6 else nose[-len(nose) // 2 :], 0.9, 0.85))
    my = ny + ry * rng.uniform(0.18, 0.28)
    mw = rx * rng.uniform(0.25, 0.5)
    smile = rng.uniform(-0.1, 0.35) * mw
    top = bezier(
        (mid_x - mw, my),
        (mid_x - mw / 3, my + smile),
        (mid_x + mw / 3, my + smile),
        (mid_x + mw, my),
    )
    el.lines.append(Stroke(top, 1.05))
    if rng.random() < 0.4:  # open mouth
        low = bezier(
            (mid_x - mw * 0.8, my + 2),
            (mid_x - mw / 3, my + smile + mw * 0.9),
            (mid_x + mw / 3, my + smile + mw * 0.9),
            (mid_x + mw * 0.8, my + 2),
        )
        el.lines.append(Stroke(low, 1.0))
    for side in (-1, 1):
        if rng.random() < 0.7 and side * turn < 0.2:
            ex = cx + side * rx * (1.0 - 0.05)
            ear = bezier(
                (ex, eye_y - 0.05 * ry),
                (ex + side * rx * 0.25, eye_y - 0.2 * ry),
                (ex + side * rx * 0.22, ny + 0.1 * ry),
                (ex - side * 2, ny + 0.05 * ry),
            )
            el.lines.append(Stroke(ear, 0.95))
    neck_w = rx * rng.uniform(0.4, 0.6)
    low = outline[outline[:, 1] > cy]
    for side in (-1, 1):
        a = low[np.argmin(np.abs(low[:, 0] - (cx + side * neck_w)))] - (0, 2)
        el.lines.append(
            Stroke(catmull_rom([a, a + (side * 2, ry * 0.35), a + (side * 6, ry * 0.6)]))
        )
    if rng.random() < 0.85:
        _hair(rng, el, cx, cy, rx, ry, outline, lw)
    else:
        el.lines.append(Stroke(outline, 1.15))
        el.fills.append(outline)
    return _rot(el, rng.normal(0, 0.15), (cx, cy))


def _hair(rng, el: Element, cx, cy, rx, ry, outline, lw):
    """Hair mass over the skull: crown contour, fringe locks, long sides, inner strands."""
    top = cy - ry * rng.uniform(1.05, 1.18)
    hx, hy = rx * rng.uniform(1.08, 1.22), cy - top
    line_y = cy - ry * rng.uniform(0.2, 0.5)  # hairline on the forehead
    t0 = np.pi - np.arcsin(np.clip((line_y - cy) / hy, -1, 1))
    crown = ellipse(cx, cy, hx, hy, 0, t0, 3 * np.pi - t0)  # temple, over the top, temple
    el.lines.append(Stroke(crown, 1.15))
    face = outline[outline[:, 1] >= line_y]
    el.lines.append(Stroke(face[np.argsort(np.arctan2(face[:, 0] - cx, face[:, 1] - cy))], 1.1))
    # fringe: pointed locks from the crown down to the hairline
    k = int(np.clip(rng.integers(3, 8), 2, max(2, rx / (3 * lw))))
    xs = np.linspace(cx - rx * 0.95, cx + rx * 0.95, k + 1)
    flow = rng.uniform(-0.4, 0.4) * rx
    for i in range(k):
        tip = np.array(
            [(xs[i] + xs[i + 1]) / 2 + flow * 0.3, line_y + rng.uniform(-0.05, 0.3) * ry]
        )
        for x in (xs[i], xs[i + 1]):
            notch = np.array([x, line_y - ry * rng.uniform(0.05, 0.25)])
            mid = (notch + tip) / 2 + (0, -0.03 * ry)
            el.lines.append(Stroke(catmull_rom([notch, mid, tip]), 0.95))
        if rng.random() < 0.6:  # lock line up into the mass
            root = np.array(
                [tip[0] * 0.7 + cx * 0.3 + flow * 0.5, top + ry * rng.uniform(0.1, 0.4)]
            )
            el.lines.append(
                Stroke(
                    catmull_rom([tip - (0, ry * 0.15), (tip + root) / 2 + (flow * 0.2, 0), root]),
                    0.8,
                    0.8,
                )
            )
    fill = [crown]
    if rng.random() < 0.6:  # long hair falling past the cheeks
        length = ry * rng.uniform(0.5, 1.6)
        for side in (-1, 1):
            a = np.array([cx + side * hx * np.abs(np.cos(t0)), line_y])
            out_tip = np.array([cx + side * rx * rng.uniform(1.1, 1.5), cy + length])
            inner = np.array([cx + side * rx * rng.uniform(0.85, 1.0), line_y + ry * 0.1])
            in_tip = np.array(
                [cx + side * rx * rng.uniform(0.8, 1.1), cy + length * rng.uniform(0.7, 1.0)]
            )
            outer = catmull_rom([a, a + (side * rx * 0.15, (out_tip[1] - a[1]) * 0.4), out_tip])
            inner_l = catmull_rom(
                [inner, inner + (side * rx * 0.05, (in_tip[1] - inner[1]) * 0.5), in_tip]
            )
            el.lines += [Stroke(outer, 1.1), Stroke(inner_l, 1.0)]
            m = int(rng.integers(1, 4))  # pointed strand ends
            ends = np.linspace(out_tip, in_tip, m + 2)[1:-1] + rng.normal(0, 0.04 * rx, (m, 2))
            zig = [out_tip]
            for e in ends:
                zig += [e - (0, length * rng.uniform(0.1, 0.25)), e]
            zig += [in_tip - (0, length * 0.1), in_tip]
            el.lines.append(Stroke(np.array(zig), 0.9))
            fill.append(np.array([a, out_tip, in_tip, inner]))
    for _ in range(int(rng.integers(0, 5))):  # strands in the mass
        u = rng.uniform(-0.8, 0.8)
        p0 = np.array([cx + u * hx * 0.4 + flow * 0.5, top + ry * 0.12])
        p1 = np.array([cx + u * hx * 0.95, line_y - ry * rng.uniform(0.05, 0.3)])
        el.lines.append(
            Stroke(catmull_rom([p0, (p0 + p1) / 2 + (u * rx * 0.15, 0), p1]), 0.75, 0.8)
        )
    el.fills += fill + [outline]


_CHAINS = [
    ("l_sh", "l_el", "l_wr"),
    ("r_sh", "r_el", "r_wr"),
    ("l_hip", "l_kn", "l_an"),
    ("r_hip", "r_kn", "r_an"),
]
_LIMBS = [(c[i], c[i + 1]) for c in _CHAINS for i in (0, 1)]
_RADIUS = {
    "l_sh": 0.3,
    "r_sh": 0.3,
    "l_el": 0.2,
    "r_el": 0.2,
    "l_wr": 0.14,
    "r_wr": 0.14,
    "l_hip": 0.42,
    "r_hip": 0.42,
    "l_kn": 0.28,
    "r_kn": 0.28,
    "l_an": 0.16,
    "r_an": 0.16,
}


def figure(rng, cx, cy, s, lw=2.5) -> Element:
    """A posed figure: skeleton guides, limb outlines, torso, head, hands, feet."""
    el = Element()
    u = s / 7.5  # head height
    j = {"pelvis": np.array([cx, cy + 0.3 * u])}
    lean = rng.normal(0, 0.2)

    def put(name, frm, ang, length):
        j[name] = j[frm] + length * u * np.array([np.sin(ang), -np.cos(ang)])
        return ang

    a = put("chest", "pelvis", lean, 2.0)
    put("neck", "chest", a + rng.normal(0, 0.15), 0.7)
    put("head", "neck", a + rng.normal(0, 0.25), 0.6)
    for side, sg in (("l", -1), ("r", 1)):
        put(f"{side}_sh", "chest", lean + sg * np.pi / 2, 0.95)
        a = put(f"{side}_el", f"{side}_sh", np.pi - sg * rng.uniform(-0.2, 2.8), 1.4)
        put(f"{side}_wr", f"{side}_el", a - sg * rng.uniform(-0.3, 1.6), 1.3)
        put(f"{side}_hip", "pelvis", lean + sg * np.pi / 2, 0.45)
        a = put(f"{side}_kn", f"{side}_hip", np.pi - sg * rng.uniform(-0.2, 0.6), 1.9)
        put(f"{side}_an", f"{side}_kn", a + sg * rng.uniform(-0.5, 0.1), 1.8)
    bulk = rng.uniform(0.8, 1.3)
    for a, b in [("pelvis", "chest"), ("chest", "neck"), ("neck", "head")] + _LIMBS:
        el.guides.append(np.array([j[a], j[b]]))
    for chain in _CHAINS:
        p = np.array([j[c] for c in chain])
        r = np.array([_RADIUS[c] for c in chain]) * u * bulk
        d = np.gradient(p, axis=0)
        n = np.stack([-d[:, 1], d[:, 0]], 1) / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)[:, None]
        mids = (p[:-1] + p[1:]) / 2
        nm = (n[:-1] + n[1:]) / 2
        rm = (r[:-1] + r[1:]) / 2 * rng.uniform(1.0, 1.25, 2)[:, None]
        for sg in (-1, 1):
            edge = [
                p[0] + sg * n[0] * r[0],
                mids[0] + sg * nm[0] * rm[0],
                p[1] + sg * n[1] * r[1],
                mids[1] + sg * nm[1] * rm[1],
                p[2] + sg * n[2] * r[2],
            ]
            el.lines.append(Stroke(catmull_rom(edge), 1.0))
        el.fills.append(np.concatenate([p + n * r[:, None], (p - n * r[:, None])[::-1]]))
    # torso: shoulders, waist, hips
    up = j["chest"] - j["pelvis"]
    up /= max(np.linalg.norm(up), 1e-6)
    rt = np.array([-up[1], up[0]])
    waist = j["pelvis"] + up * 0.9 * u
    ww, hw = rng.uniform(0.45, 0.7) * u * bulk, rng.uniform(0.6, 0.85) * u * bulk
    torso = [
        j["l_sh"] - rt * 0.1 * u,
        waist - rt * ww,
        j["pelvis"] - rt * hw - up * 0.2 * u,
        j["pelvis"] - up * 0.6 * u,
        j["pelvis"] + rt * hw - up * 0.2 * u,
        waist + rt * ww,
        j["r_sh"] + rt * 0.1 * u,
        j["neck"] - up * 0.15 * u,
    ]
    torso_line = catmull_rom(torso, closed=True)
    el.lines.append(Stroke(torso_line, 1.05))
    el.fills.append(torso_line)
    for g in ("pelvis", "chest", "l_el", "r_el", "l_kn", "r_kn"):
        if rng.random() < 0.5:
            r = _RADIUS.get(g, 0.6) * u
            gx, gy = j[g]
            el.guides.append(ellipse(gx, gy, r, r))
    hx, hy = j["head"]
    el.extend(head(rng, hx, hy - 0.1 * u, 1.1 * u, lw))
    for w in ("l_wr", "r_wr"):  # mitten hands
        wx, wy = j[w]
        el.lines.append(
            Stroke(
                ellipse(wx, wy, 0.28 * u, 0.18 * u, rng.uniform(0, np.pi), 0.3, 2 * np.pi - 0.3),
                0.9,
            )
        )
    for an in ("l_an", "r_an"):
        p = j[an]
        sg = 1 if an[0] == "r" else -1
        foot = np.array(
            [p + (-0.15 * u * sg, 0), p + (sg * 0.6 * u, 0.25 * u), p + (0.15 * u * sg, 0.3 * u)]
        )
        el.lines.append(Stroke(catmull_rom(foot), 1.0))
    return el


def hand(rng, cx, cy, s, lw=2.5) -> Element:
    """An open hand: palm outline and finger capsules."""
    el = Element()
    pw, ph = s * 0.3, s * 0.32
    palm = catmull_rom(
        [
            [cx - pw, cy - ph * 0.4],
            [cx - pw * 1.05, cy + ph * 0.5],
            [cx, cy + ph * 1.2],
            [cx + pw * 1.0, cy + ph * 0.5],
            [cx + pw, cy - ph * 0.4],
        ]
    )
    el.lines.append(Stroke(palm, 1.1))
    spread = rng.uniform(0.05, 0.35)
    for i in range(4):
        ang = (i - 1.5) * spread
        base = np.array([cx - pw + (i + 0.5) * pw * 0.5, cy - ph * 0.4])
        length = s * rng.uniform(0.28, 0.42) * (1.0 - 0.15 * abs(i - 1.3))
        d = np.array([np.sin(ang), -np.cos(ang)])
        n = np.array([-d[1], d[0]]) * pw * 0.2
        tip = base + d * length
        bend = rng.normal(0, 0.1) * length * n / np.linalg.norm(n)
        left = catmull_rom([base - n, base - n + d * length * 0.5 + bend, tip - n * 0.8])
        right = catmull_rom([base + n, base + n + d * length * 0.5 + bend, tip + n * 0.8])
        cap = ellipse(
            tip[0],
            tip[1],
            np.linalg.norm(n) * 0.8,
            np.linalg.norm(n) * 0.8,
            np.arctan2(n[1], n[0]),
            0,
            -np.pi,
        )
        el.lines += [Stroke(left, 0.95), Stroke(right, 0.95), Stroke(cap, 0.95)]
        el.fills.append(np.concatenate([left, right[::-1]]))
    tb = np.array([cx + pw * 0.95, cy + ph * 0.2])
    tip = tb + s * rng.uniform(0.25, 0.35) * np.array([np.cos(-0.6), np.sin(-0.6)])
    el.lines.append(
        Stroke(
            catmull_rom(
                [
                    tb,
                    (tb + tip) / 2 + (s * 0.05, 0),
                    tip,
                    tip + (-s * 0.06, -0.02 * s),
                    (tb + tip) / 2 + (-s * 0.03, -0.06 * s),
                    tb + (-0.05 * s, -0.15 * s),
                ]
            ),
            1.0,
        )
    )
    el.fills.append(palm)
    return _rot(el, rng.uniform(-np.pi, np.pi), (cx, cy))
