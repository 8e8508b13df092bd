"""Strokes and outlines as an SVG document at the canvas size (1 user unit = 1 px)."""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import quoteattr

import numpy as np

DECIMALS = 2  # 0.01 px: far below what a renderer shows, and a short file


def _num(value: float) -> str:
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def path_data(segments: np.ndarray, closed: bool = False) -> str:
    """`M x y C …` of one run of cubic segments (n, 4, 2); `Z` closes it."""
    if len(segments) == 0:
        return ""
    out = [f"M{_num(segments[0, 0, 0])} {_num(segments[0, 0, 1])}"]
    for seg in segments:
        out.append("C" + " ".join(f"{_num(x)} {_num(y)}" for x, y in seg[1:]))
    if closed:
        out.append("Z")
    return "".join(out)


def to_svg(items: Iterable, width: int, height: int, color: str = "#000000") -> str:
    """An SVG document: each Stroke as a round-capped `<path>` with no fill, each Shape (an
    outline, or a solid blob among centre-line strokes) as one filled `<path>` whose holes
    follow the even-odd rule."""
    paint = quoteattr(color)
    body = []
    for item in items:
        if hasattr(item, "loops"):
            d = "".join(path_data(loop, closed=True) for loop in item.loops)
            body.append(f'<path d="{d}" fill={paint} fill-rule="evenodd" stroke="none"/>')
        else:
            d = path_data(item.segments, item.closed)
            body.append(
                f'<path d="{d}" fill="none" stroke={paint} stroke-width="{_num(item.width)}" '
                'stroke-linecap="round" stroke-linejoin="round"/>'
            )
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    )
    return "\n".join([head, *body, "</svg>", ""])
