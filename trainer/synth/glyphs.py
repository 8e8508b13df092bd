"""Line sources from stroke data shipped in packages.

- KanjiVG (``kanjivg`` on PyPI, CC BY-SA 3.0): centre lines of ~6,700 kanji and kana strokes.
- Hershey fonts (``Hershey-Fonts`` on PyPI): single-stroke engraving fonts (text, symbols).
- DejaVu fonts shipped with matplotlib: glyph outlines drawn as lines (outlined lettering).

Each source is optional: if its package is missing, ``available()`` says so and the
composer leaves it out.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from .curves import Element, Stroke, bezier

_WORDS = (
    "the sketch line draw pencil ink clean rough paper witch hat cat moon house tree river "
    "stone light shadow form study page note scene panel hero city sky road door window "
    "red blue apple bread 12 34 2024 no yes go fig ok wow hello world art comic book end "
    "north south east west day night one two three four five six seven eight nine ten"
).split()


# ---------------------------------------------------------------- KanjiVG ----
KANJI_EVERY = 4


@lru_cache(maxsize=1)
def _kanji_files() -> tuple[Path, ...]:
    try:
        root = Path(str(importlib.metadata.distribution("kanjivg").locate_file("kanji")))
    except importlib.metadata.PackageNotFoundError:
        return ()
    if not root.is_dir():
        return ()
    # base forms only (variants are named like 04e00-Kaisho.svg); every KANJI_EVERY-th one,
    # so that the few MB read stay in the page cache (cold reads of small files are slow)
    return tuple(sorted(p for p in root.glob("*.svg") if "-" not in p.stem))[::KANJI_EVERY]


_TOKEN = re.compile(r"[MmLlHhVvCcSsQqTtZz]|[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_PATH_D = re.compile(r'<path[^>]*\sd="([^"]+)"')


def parse_svg_path(d: str) -> list[np.ndarray]:
    """Polylines of an SVG path (M, L, H, V, C, S, Q, T, Z, absolute and relative)."""
    toks = _TOKEN.findall(d)
    out: list[np.ndarray] = []
    cur: list[np.ndarray] = []
    pos = np.zeros(2)
    start = np.zeros(2)
    last_ctrl = None
    cmd = None
    i = 0

    def nums(k):
        nonlocal i
        v = np.array([float(t) for t in toks[i : i + k]])
        i += k
        return v

    while i < len(toks):
        if toks[i].isalpha():
            cmd = toks[i]
            i += 1
            if cmd in "Zz":
                if cur:
                    cur.append(start[None])
                pos = start.copy()
                continue
        if cmd is None:
            break
        rel = cmd.islower()
        c = cmd.upper()
        base = pos if rel else np.zeros(2)
        if c == "M":
            if cur:
                out.append(np.concatenate(cur))
            pos = base + nums(2)
            start = pos.copy()
            cur = [pos[None]]
            cmd = "l" if rel else "L"
            last_ctrl = None
        elif c == "L":
            pos = base + nums(2)
            cur.append(pos[None])
            last_ctrl = None
        elif c in "HV":
            v = nums(1)[0]
            pos = pos.copy()
            k = 0 if c == "H" else 1
            pos[k] = (pos[k] if rel else 0) + v
            cur.append(pos[None])
            last_ctrl = None
        elif c in "CS":
            if c == "C":
                p = nums(6).reshape(3, 2) + base
                c1, c2, e = p
            else:
                p = nums(4).reshape(2, 2) + base
                c1 = 2 * pos - last_ctrl if last_ctrl is not None else pos.copy()
                c2, e = p
            cur.append(bezier(pos, c1, c2, e, px_per_sample=2.0)[1:])
            last_ctrl, pos = c2, e
        elif c in "QT":
            if c == "Q":
                q, e = nums(4).reshape(2, 2) + base
            else:
                q = 2 * pos - last_ctrl if last_ctrl is not None else pos.copy()
                e = base + nums(2)
            cur.append(bezier(pos, pos + 2 / 3 * (q - pos), e + 2 / 3 * (q - e), e, 2.0)[1:])
            last_ctrl, pos = q, e
        else:  # unsupported command (e.g. arcs): skip its numbers
            i += 1
    if cur:
        out.append(np.concatenate(cur))
    return [p for p in out if len(p) >= 2]


@lru_cache(maxsize=4096)
def _kanji_strokes(path: Path) -> tuple[np.ndarray, ...]:
    text = path.read_text(encoding="utf-8")
    strokes = []
    for d in _PATH_D.findall(text):
        strokes += parse_svg_path(d)
    return tuple(strokes)


def kanji(rng, cx, cy, s, lw=2.5) -> Element:
    """One to a few KanjiVG characters (109x109 units each), stroke centre lines."""
    files = _kanji_files()
    el = Element()
    if not files:
        return el
    n = int(min(rng.choice([1, 1, 2, 3, 4]), max(1, s // (28 * lw))))
    vertical = rng.random() < 0.5
    cs = s / n if n > 1 else s
    for k in range(n):
        strokes = _kanji_strokes(files[int(rng.integers(len(files)))])
        off = (k - (n - 1) / 2) * cs
        ox, oy = (cx, cy + off) if vertical else (cx + off, cy)
        for st in strokes:
            p = (st - 54.5) / 109 * cs * 0.95 + (ox, oy)
            el.lines.append(Stroke(p, rng.uniform(0.85, 1.1), jitter=0.6))
    return el


# ---------------------------------------------------------------- Hershey ----
_HERSHEY_FONTS = (
    "futural",
    "futuram",
    "rowmans",
    "rowmand",
    "scripts",
    "scriptc",
    "timesr",
    "timesi",
    "cursive",
    "gothiceng",
    "greek",
    "cyrillic",
)


@cache
def _hershey(name: str):
    from HersheyFonts import HersheyFonts

    f = HersheyFonts()
    f.load_default_font(name)
    return f


def _hershey_ok() -> bool:
    return importlib.util.find_spec("HersheyFonts") is not None


def random_text(rng, max_words=4) -> str:
    words = [
        _WORDS[int(i)] for i in rng.integers(0, len(_WORDS), int(rng.integers(1, max_words + 1)))
    ]
    text = " ".join(words)
    r = rng.random()
    return text.upper() if r < 0.35 else text.capitalize() if r < 0.6 else text


def hershey_text(rng, cx, cy, s, lw=2.5) -> Element:
    """Lines of single-stroke text (notes, labels, speech) in a Hershey font."""
    el = Element()
    if not _hershey_ok():
        return el
    font = _hershey(str(rng.choice(_HERSHEY_FONTS)))
    n_lines = int(min(rng.integers(1, 5), max(1, s * 0.6 // (9 * lw))))
    line_h = max(s / n_lines * rng.uniform(0.45, 0.8), 9 * lw)
    slant = rng.normal(0, 0.1)
    y0 = cy - (n_lines - 1) * line_h / 2 / 0.7
    for li in range(n_lines):
        strokes = [np.asarray(st, np.float64) for st in font.strokes_for_text(random_text(rng))]
        strokes = [st for st in strokes if len(st) >= 2]
        if not strokes:
            continue
        allp = np.concatenate(strokes)
        lo, hi = allp.min(0), allp.max(0)
        scale = line_h / max(hi[1] - lo[1], 1e-6)
        width = (hi[0] - lo[0]) * scale
        if width > 1.3 * s:
            f = max(1.3 * s / width, 9 * lw / line_h)
            scale, width = scale * f, width * f
        y = y0 + li * line_h / 0.7
        for st in strokes:
            p = (st - lo) * scale
            p[:, 0] += -p[:, 1] * slant + cx - width / 2
            p[:, 1] += y - line_h / 2
            el.lines.append(Stroke(p, 0.85, jitter=0.5))
    return el


# ---------------------------------------------------------------- DejaVu ----
_DEJAVU = ("DejaVu Sans", "DejaVu Serif")


@lru_cache(maxsize=256)
def _outline(text: str, family: str, bold: bool) -> tuple[np.ndarray, ...]:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties(family=family, weight="bold" if bold else "normal")
    path = TextPath((0, 0), text, size=1.0, prop=prop)
    polys = [np.asarray(p, np.float64) for p in path.to_polygons(closed_only=True)]
    return tuple(p * (1, -1) for p in polys if len(p) >= 3)


def outline_letters(rng, cx, cy, s, lw=2.5) -> Element:
    """Outlined lettering (titles, sound effects): DejaVu glyph outlines as lines."""
    el = Element()
    word = random_text(rng, max_words=1)
    if rng.random() < 0.3:
        word = word[: int(rng.integers(1, 4))]
    try:
        polys = _outline(word, str(rng.choice(_DEJAVU)), bool(rng.random() < 0.7))
    except Exception:  # no matplotlib: leave this source out
        return el
    if not polys:
        return el
    allp = np.concatenate(polys)
    lo, hi = allp.min(0), allp.max(0)
    scale = min(s * 1.2 / max(hi[0] - lo[0], 1e-6), s * 0.6 / max(hi[1] - lo[1], 1e-6))
    scale = max(scale, 22 * lw / max(hi[1] - lo[1], 1e-6))  # counters must stay open
    ang = rng.normal(0, 0.15)
    c, sn = np.cos(ang), np.sin(ang)
    centre = (lo + hi) / 2
    for p in polys:
        q = (p - centre) * scale
        q = np.stack([c * q[:, 0] - sn * q[:, 1], sn * q[:, 0] + c * q[:, 1]], 1) + (cx, cy)
        el.lines.append(Stroke(q, 1.0, jitter=0.45))
    return el


def available() -> dict[str, bool]:
    """Which packaged stroke sources can be used here."""
    mpl = importlib.util.find_spec("matplotlib") is not None
    return {"kanji": bool(_kanji_files()), "hershey": _hershey_ok(), "outline_letters": mpl}
