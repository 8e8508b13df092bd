"""Placing a result's SVG (made for the cleaned rectangle) on an editor's canvas.

The backend traces the rectangle it was sent; an editor that cleaned a selection needs the
paths where that rectangle sits, on a document of its own size and units. Standard
library only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"


def place(
    svg: str, x: float, y: float, width: int, height: int, points_per_px: float | None = None
) -> str:
    """`svg` moved by (x, y) on a width×height px canvas.

    points_per_px: give the document's size in points (72 / its ppi) rather than in
    unitless px, for editors that read SVG lengths in points (Krita's vector layers), so
    one user unit is one image pixel whatever the document's resolution.
    """
    ET.register_namespace("", SVG_NS)
    root = ET.fromstring(svg)
    shift = f"translate({x:g} {y:g})"
    for child in root:  # each path moved on its own: editors make one shape of a group
        child.set("transform", f"{shift} {child.get('transform', '')}".strip())
    if points_per_px is None:
        root.set("width", str(width))
        root.set("height", str(height))
    else:
        root.set("width", f"{width * points_per_px:g}pt")
        root.set("height", f"{height * points_per_px:g}pt")
    root.set("viewBox", f"0 0 {width} {height}")
    return ET.tostring(root, encoding="unicode")


def path_count(svg: str) -> int:
    return len(ET.fromstring(svg).findall(f".//{{{SVG_NS}}}path"))
