"""Build ``data/tabler_icons.json.gz`` from the npm package ``@tabler/icons`` (MIT).

Run once when (re)vendoring; training only reads the result (``icons.py``), so neither npm nor
the SVG parser is a run-time dependency::

    cd /tmp && npm pack @tabler/icons && tar xzf tabler-icons-*.tgz
    pip install svgelements
    python -m trainer.synth.vendor_icons --package-dir /tmp/package \
        --out trainer/synth/data/tabler_icons.json.gz

Each outline icon (24x24 units, stroke width 2, no fill) is parsed with ``svgelements`` and
every sub-path flattened to a polyline (curves and arcs to within ``TOL`` units). Icons of
lettering, numbers, currencies, logos, the slashed ``-off`` variants and the badge variants
("bell-plus") are left out; of the rest, those with more strokes and curves are preferred,
with caps per category and per name family ("mood-...") for variety.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from trainer.synth import vendored

TOL = 0.015  # flattening tolerance, icon units (1/24 of the icon)
Q = 50  # stored coordinates are round(units * Q)
DOT = 0.1  # sub-paths shorter than this (units) are dots ("M9 11v.01")
SKIP_CATEGORIES = {
    *("Letters", "Numbers", "Text", "Currencies", "Math", "Brand", "Logic", "Badges"),
    "Extensions",
}
CAP = {"Arrows": 40, "Shapes": 60, "Charts": 20, "Database": 25, "Version control": 10}
DEFAULT_CAP = 120
MAX_ICONS = 1500
# badge variants of another icon ("bell-plus", "home-dollar"): the base icon cut open for a
# small sign in a corner, less like a drawing and near-duplicates of the base
MODIFIERS = set(
    "plus minus x check search exclamation dollar bolt cancel code cog heart pause question "
    "share star pin spark key flame ai bitcoin discount edit up down scan dot asterisk dashed "
    "plus-2 minus-2 user percentage".split()
)
# icons that are mostly lettering or digits (the text sources draw those)
NAME_SKIP = (
    *("letter-", "number-", "exposure", "currency", "math-", "sort-", "alphabet", "file-type-"),
    *("badge-", "http-", "rating-", "rewind-", "time-duration-", "play-card-", "xbox-"),
    *("wash-dry-", "text-", "typography", "coin-", "receipt-", "transaction-", "hours-"),
    *("temperature-c", "temperature-f", "clock-1", "clock-2", "signal-", "auth-", "error-"),
    "navigation-",
)
TEXT_NAMES = set(
    "ad ad-2 ad-circle api api-app api-book bmp csv gif html jpg json pdf png seo sql svg txt "
    "toml zip zsh sdk mcp hdr alt ce tir typeface a-b ai model-ai square-f8 vip-2 ux-circle "
    "e-passport cell-signal-5 sos world-www txt file-cv file-isr file-digit file-euro "
    "file-zip capture map-east map-north map-south map-west laurel-wreath-1 laurel-wreath-2 "
    "laurel-wreath-3 message-language airpods-l airpods-r vs servicemark scoreboard registered "
    "relation-many-to-many relation-one-to-many relation-one-to-one uv-index repeat-once "
    "bleach-chlorine brightness-auto clipboard-typography car-fan-1 car-fan-2 car-fan-3 "
    "car-fan-auto trademark copyright copyleft".split()
)
# icons per first name part ("mood-", "building-"), for variety
FAMILY_CAP = {"mood": 20, "building": 20, "gender": 6, "wash": 6, "topology": 5, "chart": 6}
DEFAULT_FAMILY_CAP = 10


def _is_variant(name: str, names) -> bool:
    """A badge variant of an existing icon, or an icon of letters/numbers, by its name."""
    if name in TEXT_NAMES or any(name.startswith(s) for s in NAME_SKIP):
        return True
    parts = name.split("-")
    for j in range(1, len(parts)):
        if "-".join(parts[:j]) in names and (
            "-".join(parts[j:]) in MODIFIERS or parts[j].startswith(("letter", "number"))
        ):
            return True
    return False


def _flatten(seg, tol: float) -> list[tuple[float, float]]:
    """Points after the start of a curve segment, by adaptive subdivision (chord error < tol)."""

    def pt(t):
        p = seg.point(t)
        return np.array([p.x, p.y], np.float64)

    out: list[tuple[float, float]] = []

    def rec(t0, p0, t1, p1, depth):
        tm = 0.5 * (t0 + t1)
        pm = pt(tm)
        # also test the quarter points: an S-shaped piece can have its midpoint on the chord
        q1, q3 = pt(0.5 * (t0 + tm)), pt(0.5 * (tm + t1))
        d = p1 - p0
        n = np.hypot(*d)

        def err(q):
            if n < 1e-12:
                return float(np.hypot(*(q - p0)))
            return abs(d[0] * (q - p0)[1] - d[1] * (q - p0)[0]) / n

        if depth < 12 and (max(err(pm), err(q1), err(q3)) > tol or depth < 1):
            rec(t0, p0, tm, pm, depth + 1)
            rec(tm, pm, t1, p1, depth + 1)
        else:
            out.append((float(p1[0]), float(p1[1])))

    rec(0.0, pt(0.0), 1.0, pt(1.0), 0)
    return out


Polylines = list[tuple[np.ndarray, bool]]  # (polyline in units, closed) per sub-path


def icon_polylines(svg_path: Path) -> tuple[Polylines, list[np.ndarray]]:
    """([(polyline in units, closed)], [dot centres]) of one outline icon SVG."""
    import svgelements as se

    svg = se.SVG.parse(str(svg_path), reify=True)
    lines: Polylines = []
    dots: list[np.ndarray] = []
    for el in svg.elements():
        if not isinstance(el, se.Shape):
            continue
        stroke = el.values.get("stroke")
        if stroke == "none" or el.values.get("fill") not in (None, "none"):
            continue  # the invisible 24x24 frame; filled marks
        path = se.Path(el)
        for sub in path.as_subpaths():
            pts: list[tuple[float, float]] = []
            closed = False
            for seg in sub:
                if isinstance(seg, se.Move):
                    pts = [(seg.end.x, seg.end.y)]
                elif isinstance(seg, se.Close):
                    closed = True
                    if pts and pts[-1] != pts[0]:
                        pts.append(pts[0])
                elif isinstance(seg, se.Line):
                    pts.append((seg.end.x, seg.end.y))
                else:  # CubicBezier, QuadraticBezier, Arc
                    pts += _flatten(seg, TOL)
            if len(pts) < 2:
                continue
            p = np.array(pts, np.float64)
            length = np.hypot(*np.diff(p, axis=0).T).sum()
            if length < DOT:
                dots.append(p.mean(0))
                continue
            # a circle drawn as two arcs ends where it began without a "z": closed too
            closed = closed or bool(np.hypot(*(p[-1] - p[0])) < 1e-3)
            lines.append((p, closed))
    return lines, dots


def _score(lines) -> float:
    """More strokes and more curve (points) make a more interesting drawing."""
    n_pts = sum(len(p) for p, _ in lines)
    return len(lines) + 0.05 * n_pts


def _encode(p: np.ndarray) -> list[int]:
    return vendored.encode(p, Q)


def build(package_dir: Path, max_icons: int = MAX_ICONS) -> dict:
    meta = json.loads((package_dir / "icons.json").read_text(encoding="utf-8"))
    pkg = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    cands: defaultdict[str, list[tuple[float, str, Polylines, list[np.ndarray]]]]
    cands = defaultdict(list)  # per category: (score, name, lines, dots) of each candidate
    for name, info in meta.items():
        cat = info.get("category") or "Other"
        if cat in SKIP_CATEGORIES or name.endswith("-off") or "outline" not in info["styles"]:
            continue
        if _is_variant(name, meta):
            continue
        f = package_dir / "icons" / "outline" / f"{name}.svg"
        if not f.exists():
            continue
        lines, dots = icon_polylines(f)
        if len(lines) < 2:
            continue  # single circles, squares... the procedural sources draw those
        cands[cat].append((_score(lines), name, lines, dots))
    # round-robin over categories, best first, up to each category's cap
    family: defaultdict[str, int] = defaultdict(int)
    for cat, c in cands.items():
        c.sort(key=lambda t: (-t[0], t[1]))
        kept = []
        for item in c:
            fam = item[1].split("-")[0]
            family[fam] += 1
            if family[fam] <= FAMILY_CAP.get(fam, DEFAULT_FAMILY_CAP):
                kept.append(item)
        cands[cat] = kept
    chosen: list[tuple[str, str, Polylines, list[np.ndarray]]] = []  # (category, name, ...)
    depth = 0
    while len(chosen) < max_icons and any(depth < len(c) for c in cands.values()):
        for cat in sorted(cands):
            c = cands[cat]
            if depth < min(len(c), CAP.get(cat, DEFAULT_CAP)) and len(chosen) < max_icons:
                chosen.append((cat, *c[depth][1:]))
        depth += 1
        if depth > max(CAP.get(k, DEFAULT_CAP) for k in cands):
            break
    icons = []
    for cat, name, lines, dots in sorted(chosen, key=lambda t: t[1]):
        icons.append(
            {
                "name": name,
                "category": cat,
                "lines": [_encode(p) for p, _ in lines],
                "closed": [int(c) for _, c in lines],
                "dots": np.round(np.array(dots) * Q).astype(int).reshape(-1).tolist(),
            }
        )
    return {
        "source": f"{pkg['name']} {pkg['version']} (MIT, (c) Pawel Kuna), icons/outline/*.svg",
        "format": (
            "per icon: lines = [x0, y0, dx1, dy1, ...] in 1/Q units of the 24x24 viewBox "
            "(first point absolute, then deltas); closed = 1 where the sub-path is closed; "
            "dots = [x, y, ...] of zero-length round-cap dots"
        ),
        "Q": Q,
        "units": 24,
        "tolerance": TOL,
        "icons": icons,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", type=Path, required=True, help="unpacked @tabler/icons")
    ap.add_argument("--out", type=Path, required=True, help="output .json.gz")
    ap.add_argument("--max-icons", type=int, default=MAX_ICONS)
    a = ap.parse_args(argv)
    data = build(a.package_dir, a.max_icons)
    raw_bytes = vendored.write(a.out, data)
    cats: defaultdict[str, int] = defaultdict(int)
    for ic in data["icons"]:
        cats[ic["category"]] += 1
    print(
        f"{len(data['icons'])} icons, {raw_bytes / 1e6:.2f} MB json, "
        f"{a.out.stat().st_size / 1e6:.2f} MB gz; " + ", ".join(f"{k} {v}" for k, v in cats.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
