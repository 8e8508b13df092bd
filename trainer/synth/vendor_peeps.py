"""Build ``data/open_peeps.json.gz`` from the npm package ``@dicebear/open-peeps`` (CC0 design).

Run once when (re)vendoring; training only reads the result (``peeps.py``), so neither npm,
the SVG renderer nor the skeleton tracer is a run-time dependency::

    cd /tmp && curl -s -o open-peeps.tgz \
        https://registry.npmjs.org/@dicebear/open-peeps/-/open-peeps-9.4.3.tgz
    tar xzf open-peeps.tgz          # -> /tmp/package
    pip install resvg_py skan scikit-image
    python -m trainer.synth.vendor_peeps --package-dir /tmp/package \
        --out trainer/synth/data/open_peeps.json.gz

Open Peeps (Pablo Stanley, CC0 1.0) are drawn with a brush: black filled shapes of varying
width over flat colour fills. The package holds one bust (``lib/index.js``, viewBox 704x704)
with slots at fixed transforms for 48 heads (hair, hats), 30 faces, 16 facial hairs, 2 masks
and 8 accessories (``lib/components/*.js``, SVG in JS template literals). This script

1. pulls the variants out of the JS with regular expressions, turns every colour slot and
   colour into white and keeps black (``#000``, ``#231F20``) as ink;
2. composes ``N_PEEPS`` busts (random head, face, and sometimes facial hair, accessories or a
   mask, fixed seed) and one bare head (no body) per head design, and renders each with
   ``resvg_py`` at ``SCALE`` px per unit, black ink on white (fills in z-order, so skin hides
   the body lines behind a head);
3. splits the ink into *solid masses* (what survives an opening with a disk ``SOLID_D`` units
   wide: black hair, beards, hats, sunglasses lenses, which a line artist would outline, not
   scribble over) and *strokes* (the rest, minus a margin around the masses);
4. skeletonizes the strokes (scikit-image), traces the skeleton into paths (``skan``), drops
   spurs shorter than ``SPUR`` units that end freely, joins paths through junctions by good
   continuation, smooths the pixel staircase and simplifies (``cv2.approxPolyDP``, ``EPS``);
   small separate blobs (pupils, dots) become dots with their radius;
5. stores the masses' outlines as closed polylines (marked ``solid``: they can hide what lies
   behind), and the drawing's silhouette (opaque area: skin, clothes, hair) as its fill.

Coordinates are in viewBox units (0..704) quantised to 1/Q, first point absolute then deltas.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from trainer.synth import vendored

SCALE = 1.5  # render px per viewBox unit
UNITS = 704  # the bust's viewBox
Q = 2  # stored coordinates are round(units * Q)
SOLID_D = 30.0  # ink at least this wide (units) is a solid mass: outlined, not traced
SPUR = 10.0  # free-ended skeleton branches shorter than this (units) are dropped
MIN_LEN = 6.0  # shortest kept stroke (units)
EPS = 0.6  # simplification tolerance (units)
DOT_MAX = 26.0  # a separate blob no larger than this (units) is a dot
N_PEEPS = 240
SEED = 20240901
GROUPS = ("head", "face", "facialHair", "mask", "accessories")
# group: chance of appearing in a bust (head and face always)
CHANCE = {"facialHair": 0.3, "accessories": 0.25, "mask": 0.04}

_SLOT = re.compile(r"\$\{escape\.xml\(`\$\{colors\.\w+\}`\)\}")
_ENTRY = re.compile(r"^    (\w+): \(components, colors\) => `(.*?)`,?$", re.M | re.S)
_PAINT = re.compile(r'\b(fill|stroke)="([^"]*)"')
INK = {"#000", "#000000", "#231f20", "black"}


def _recolor(svg: str) -> str:
    """Black stays ink; every other colour (skin, hair, clothes, eyes, tongues) is white."""

    def f(m):
        v = m.group(2).strip().lower()
        new = "#000" if v in INK else ("none" if v == "none" else "#fff")
        return f'{m.group(1)}="{new}"'

    return _PAINT.sub(f, svg)


def load_package(package_dir: Path) -> tuple[str, dict[str, str], dict[str, dict[str, str]]]:
    """(body SVG, transform per slot group, {group: {variant: SVG}}), recoloured."""
    lib = package_dir / "lib"
    idx = (lib / "index.js").read_text(encoding="utf-8")
    m = re.search(r"body: `(<g fill-rule.*?</g>)<g transform", idx, re.S)
    if not m:
        raise ValueError("body SVG not found in lib/index.js")
    body = _recolor(_SLOT.sub("#fff", m.group(1)))
    slots = re.findall(r'<g transform="([^"]+)">\$\{\(_\w+ = \(_\w+ = components\.(\w+)\)', idx)
    tf = {g: t for t, g in slots}
    parts: dict[str, dict[str, str]] = {}
    for g in GROUPS:
        txt = _SLOT.sub("#fff", (lib / "components" / f"{g}.js").read_text(encoding="utf-8"))
        parts[g] = {k: _recolor(v) for k, v in _ENTRY.findall(txt)}
        if "${" in "".join(parts[g].values()):
            raise ValueError(f"unhandled template slot in {g}.js")
    return body, tf, parts


def compose_svg(body: str | None, tf, parts, sel: dict[str, str]) -> str:
    inner = body or ""
    for g in GROUPS:
        if g in sel:
            inner += f'<g transform="{tf[g]}">{parts[g][sel[g]]}</g>'
    px = round(UNITS * SCALE)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {UNITS} {UNITS}" '
        f'width="{px}" height="{px}" fill="none">{inner}</svg>'
    )


def render(svg: str) -> tuple[np.ndarray, np.ndarray]:
    """(ink mask, opaque mask), booleans at SCALE px per unit."""
    import cv2
    import resvg_py

    png = bytes(resvg_py.svg_to_bytes(svg_string=svg))
    im = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if im is None or im.ndim != 3 or im.shape[2] != 4:
        raise ValueError("resvg_py did not return an RGBA PNG")
    alpha = im[:, :, 3] > 127
    ink = alpha & (im[:, :, :3].mean(2) < 128)
    return ink, alpha


def _disk(d_px: float) -> np.ndarray:
    import cv2

    k = max(3, int(round(d_px)) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def _smooth_simplify(p: np.ndarray, closed: bool, eps: float) -> np.ndarray:
    """Moving-average the pixel staircase away (ends kept), then Douglas-Peucker."""
    import cv2

    if len(p) >= 5:
        k = 5
        if closed:
            q = np.concatenate([p[-(k // 2) - 1 : -1], p, p[1 : k // 2 + 1]])
            sm = np.stack([np.convolve(q[:, i], np.ones(k) / k, "valid") for i in (0, 1)], 1)
        else:
            q = np.concatenate([np.repeat(p[:1], k // 2, 0), p, np.repeat(p[-1:], k // 2, 0)])
            sm = np.stack([np.convolve(q[:, i], np.ones(k) / k, "valid") for i in (0, 1)], 1)
            sm[0], sm[-1] = p[0], p[-1]
        p = sm
    s = cv2.approxPolyDP(p.astype(np.float32).reshape(-1, 1, 2), eps, closed).reshape(-1, 2)
    s = s.astype(np.float64)
    if closed and not np.allclose(s[0], s[-1]):
        s = np.concatenate([s, s[:1]])
    return s


def _trace_strokes(mask: np.ndarray) -> list[np.ndarray]:
    """Centre lines of a stroke mask as pixel polylines: spurs pruned, junctions joined."""
    from skan import Skeleton
    from skimage.morphology import skeletonize

    skel = skeletonize(mask)
    if skel.sum() < 2:
        return []
    sk = Skeleton(skel)
    paths = [sk.path_coordinates(i)[:, ::-1].astype(np.float64) for i in range(sk.n_paths)]
    # node of each path end: skeleton pixels within 2 px are one node (junction clusters)
    ends = np.array([[p[0], p[-1]] for p in paths]).reshape(-1, 2)
    parent = list(range(len(ends)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(ends)):
        d = np.abs(ends[i + 1 :] - ends[i]).max(1)
        for j in np.flatnonzero(d <= 2) + i + 1:
            parent[find(int(j))] = find(i)
    node = [find(i) for i in range(len(ends))]
    deg: dict[int, int] = {}
    for n in node:
        deg[n] = deg.get(n, 0) + 1
    spur = SPUR * SCALE
    keep = []
    for i, p in enumerate(paths):
        a, b = node[2 * i], node[2 * i + 1]
        length = float(np.hypot(*np.diff(p, axis=0).T).sum())
        free = (deg[a] == 1) + (deg[b] == 1)
        if a == b and length < 3 * spur:
            continue  # a tiny loop: a hole in a blot
        if free == 1 and length < spur:
            continue
        keep.append(i)
    # join through nodes: at each node, pair the path ends that continue most straightly
    at: dict[int, list[tuple[int, int]]] = {}  # node -> [(path, end 0/1)]
    for i in keep:
        at.setdefault(node[2 * i], []).append((i, 0))
        at.setdefault(node[2 * i + 1], []).append((i, 1))

    def direction(i, e):  # unit vector leaving the node along path i
        p = paths[i] if e == 0 else paths[i][::-1]
        q = p[min(len(p) - 1, int(4 * SCALE))] - p[0]
        return q / max(np.hypot(*q), 1e-9)

    link: dict[tuple[int, int], tuple[int, int]] = {}
    for _n, ends_here in at.items():
        cand = []
        for x in range(len(ends_here)):
            for y in range(x + 1, len(ends_here)):
                (pi, pe), (qi, qe) = ends_here[x], ends_here[y]
                if pi == qi:
                    continue
                cos = float(np.dot(direction(pi, pe), direction(qi, qe)))
                if cos < -0.3:  # leaving in roughly opposite directions: one line
                    cand.append((cos, ends_here[x], ends_here[y]))
        used: set[tuple[int, int]] = set()
        for _c, u, v in sorted(cand, key=lambda t: t[0]):
            if u not in used and v not in used:
                link[u], link[v] = v, u
                used |= {u, v}
    out = []
    done: set[int] = set()
    for i in keep:
        if i in done:
            continue
        # walk back to a chain start, then forward
        start, se = i, 0
        seen = {i}
        while (start, se) in link:
            prev, pe = link[(start, se)]
            if prev in seen:
                break
            seen.add(prev)
            start, se = prev, 1 - pe
        cur, ce = start, se  # enter ``cur`` at end ``ce``
        chain: list[np.ndarray] = []
        while True:
            done.add(cur)
            p = paths[cur] if ce == 0 else paths[cur][::-1]
            chain.append(p if not chain else p[1:])
            nxt = link.get((cur, 1 - ce))
            if nxt is None or nxt[0] in done:
                break
            cur, ce = nxt
        out.append(np.concatenate(chain))
    return out


def trace(ink: np.ndarray, alpha: np.ndarray) -> dict:
    """Lines, closed flags, solid flags, dots and silhouette (units) of one rendered drawing."""
    import cv2

    ink8 = ink.astype(np.uint8)
    solid = cv2.morphologyEx(ink8, cv2.MORPH_OPEN, _disk(SOLID_D * SCALE))
    n, lab, stats, cents = cv2.connectedComponentsWithStats(ink8, connectivity=8)
    lines: list[np.ndarray] = []
    closed: list[int] = []
    solid_f: list[int] = []
    dots: list[tuple[float, float, float]] = []
    dotmask = np.zeros_like(ink8)
    for c in range(1, n):
        w, h = stats[c, 2], stats[c, 3]
        if max(w, h) <= DOT_MAX * SCALE:
            r = 0.5 * np.sqrt(4 * stats[c, 4] / np.pi)
            dots.append((cents[c, 0] / SCALE, cents[c, 1] / SCALE, r / SCALE))
            dotmask[lab == c] = 1
    solid[dotmask > 0] = 0
    # masses: outlines (outer and holes), simplified a little more than strokes
    cs, _ = cv2.findContours(solid, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    for cnt in cs:
        if cv2.contourArea(cnt) < (SOLID_D * SCALE) ** 2:
            continue
        ring = cnt.reshape(-1, 2).astype(np.float64)
        ring = np.concatenate([ring, ring[:1]])
        lines.append(_smooth_simplify(ring, True, EPS * 1.5 * SCALE) / SCALE)
        closed.append(1)
        solid_f.append(1)
    margin = cv2.dilate(solid, _disk(0.35 * SOLID_D * SCALE))
    strokes = (ink8 > 0) & (margin == 0) & (dotmask == 0)
    for p in _trace_strokes(strokes):
        if float(np.hypot(*np.diff(p, axis=0).T).sum()) < MIN_LEN * SCALE:
            continue
        cl = bool(np.abs(p[0] - p[-1]).max() <= 2) and len(p) > 8
        lines.append(_smooth_simplify(p, cl, EPS * SCALE) / SCALE)
        closed.append(int(cl))
        solid_f.append(0)
    # silhouette: the largest opaque region's outline
    a8 = cv2.morphologyEx(alpha.astype(np.uint8), cv2.MORPH_CLOSE, _disk(5))
    cs, _ = cv2.findContours(a8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outer = max(cs, key=cv2.contourArea).astype(np.float32)
    sil = cv2.approxPolyDP(outer.reshape(-1, 1, 2), 3 * SCALE, True)
    return {
        "lines": lines,
        "closed": closed,
        "solid": solid_f,
        "dots": dots,
        "fill": sil.reshape(-1, 2).astype(np.float64) / SCALE,
    }


def _encode(p: np.ndarray) -> list[int]:
    return vendored.encode(p, Q)


def selections(parts, n: int = N_PEEPS, seed: int = SEED) -> list[tuple[str, dict[str, str]]]:
    """(kind, {group: variant}) of every drawing: ``n`` busts, then one bare head per design."""
    rng = np.random.default_rng(seed)
    names = {g: sorted(parts[g]) for g in GROUPS}
    heads = names["head"] * (n // len(names["head"]) + 1)
    rng.shuffle(heads)
    out = []
    for i in range(n):
        sel = {"head": heads[i], "face": names["face"][int(rng.integers(len(names["face"])))]}
        for g, p in CHANCE.items():
            if rng.random() < p:
                sel[g] = names[g][int(rng.integers(len(names[g])))]
        if "mask" in sel:
            sel.pop("facialHair", None)
        out.append(("bust", sel))
    for h in names["head"]:
        sel = {"head": h, "face": names["face"][int(rng.integers(len(names["face"])))]}
        if rng.random() < CHANCE["facialHair"]:
            sel["facialHair"] = names["facialHair"][int(rng.integers(len(names["facialHair"])))]
        out.append(("head", sel))
    return out


def build(package_dir: Path, n: int = N_PEEPS) -> dict:
    body, tf, parts = load_package(package_dir)
    pkg = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    peeps = []
    for kind, sel in selections(parts, n):
        ink, alpha = render(compose_svg(body if kind == "bust" else None, tf, parts, sel))
        t = trace(ink, alpha)
        peeps.append(
            {
                "kind": kind,
                "parts": [sel.get(g, "") for g in GROUPS],
                "lines": [_encode(p) for p in t["lines"]],
                "closed": t["closed"],
                "solid": t["solid"],
                "dots": np.round(np.array(t["dots"]) * Q).astype(int).reshape(-1).tolist(),
                "fill": _encode(t["fill"]),
            }
        )
    return {
        "source": (
            f"{pkg['name']} {pkg['version']}: Open Peeps by Pablo Stanley "
            "(https://www.openpeeps.com/), design CC0 1.0; package code MIT (c) 2024 "
            "Florian Koerner"
        ),
        "format": (
            "per drawing: kind (bust: with body; head: no body); parts = head, face, facialHair, "
            "mask, accessories variant names ('' = none); lines = [x0, y0, dx1, dy1, ...] in 1/Q "
            "units of the 704x704 viewBox (first point absolute, then deltas): brush-stroke "
            "centre lines and outlines of solid ink masses; closed = 1 where the line is closed; "
            "solid = 1 for a mass outline; dots = [x, y, r, ...] of small ink blots; fill = the "
            "opaque silhouette"
        ),
        "Q": Q,
        "units": UNITS,
        "groups": list(GROUPS),
        "params": {"scale": SCALE, "solid_d": SOLID_D, "spur": SPUR, "eps": EPS},
        "peeps": peeps,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", type=Path, required=True, help="unpacked open-peeps")
    ap.add_argument("--out", type=Path, required=True, help="output .json.gz")
    ap.add_argument("--n", type=int, default=N_PEEPS, help="number of busts")
    a = ap.parse_args(argv)
    data = build(a.package_dir, a.n)
    raw_bytes = vendored.write(a.out, data)
    n_lines = sum(len(p["lines"]) for p in data["peeps"])
    print(
        f"{len(data['peeps'])} drawings, {n_lines} lines, {raw_bytes / 1e6:.2f} MB json, "
        f"{a.out.stat().st_size / 1e6:.2f} MB gz"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
