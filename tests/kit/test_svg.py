"""Placing a traced rectangle's SVG on the editor's canvas."""

import xml.etree.ElementTree as ET

from sketch_kit import svg

NS = {"s": svg.SVG_NS}
TRACED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
    'version="1.1" width="40" height="30" viewBox="0 0 40 30">\n'
    '<path d="M1 2C3 4 5 6 7 8" fill="none" stroke="#000000" stroke-width="2"/>\n'
    '<path d="M0 0C1 1 2 2 3 3" fill="none" stroke="#000000" stroke-width="1.5"/>\n</svg>\n'
)


def test_place_moves_the_paths_onto_the_canvas():
    placed = ET.fromstring(svg.place(TRACED, 100, 50.5, 800, 600))
    assert (placed.get("width"), placed.get("height")) == ("800", "600")
    assert placed.get("viewBox") == "0 0 800 600"
    paths = placed.findall("s:path", NS)  # still top-level: one editable shape each
    assert [p.get("stroke-width") for p in paths] == ["2", "1.5"]
    assert {p.get("transform") for p in paths} == {"translate(100 50.5)"}
    assert svg.path_count(svg.place(TRACED, 0, 0, 40, 30)) == 2


def test_points_for_editors_that_read_points():
    placed = ET.fromstring(svg.place(TRACED, 0, 0, 300, 200, points_per_px=72 / 300))
    assert (placed.get("width"), placed.get("height")) == ("72pt", "48pt")
    assert placed.get("viewBox") == "0 0 300 200"  # one user unit is still one pixel
