"""Vector tracing (backend.vector): strokes that follow the raster, joined, without confetti.

Rendering is done by resvg (an independent SVG renderer, resvg-py), so these tests check the
SVG a browser or Inkscape would draw, not our own reading of the Béziers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
import resvg_py

from backend.vector import (
    Shape,
    Stroke,
    bezier,
    line_mask,
    to_svg,
    trace_centrelines,
    trace_outlines,
)
from sketch_kit.protocol import CleanOptions
from trainer.line_metrics import tolerant_scores

SVG = "{http://www.w3.org/2000/svg}"


def canvas(height=120, width=160):
    return np.zeros((height, width), np.uint8)


def capsule(shape, p0, p1, width: float) -> np.ndarray:
    """Pixels whose centre lies within width/2 of the segment p0-p1 (x, y in pixel
    indices): a line exactly `width` px wide, unlike cv2.line, whose thickness 3 is 5 px."""
    ys, xs = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(xs - x0 - t * dx, ys - y0 - t * dy) < width / 2


def render(svg: str, width: int, height: int) -> np.ndarray:
    """Ink (bool) of the SVG drawn by resvg on white at its own size."""
    png = resvg_py.svg_to_bytes(svg_string=svg, background="#ffffff", skip_system_fonts=True)
    gray = cv2.imdecode(np.frombuffer(bytes(png), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert gray.shape == (height, width)
    return gray < 0.75 * 255  # trainer.line_metrics.INK_LEVEL


def f_score(mask: np.ndarray, items) -> float:
    h, w = mask.shape
    drawn = render(to_svg(items, w, h), w, h)
    return tolerant_scores(drawn, mask, 1.0 / max(h, w))["f1"]


def distance_to(points: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Each point's distance to a densely sampled path."""
    curve = bezier.sample(segments, 0.05)
    return np.min(np.hypot(*(points[:, None, :] - curve[None]).transpose(2, 0, 1)), axis=1)


def ends(stroke) -> np.ndarray:
    return np.array([stroke.segments[0, 0], stroke.segments[-1, 3]])


def test_a_straight_line_is_one_open_stroke_of_its_width():
    (stroke,) = trace_centrelines(capsule((120, 160), (20, 60), (140, 60), 3))
    assert not stroke.closed and abs(stroke.width - 3) <= 0.5
    curve = bezier.sample(stroke.segments)
    inside = (curve[:, 0] > 21.5 + 1.5) & (curve[:, 0] < 139.5 - 1.5)  # the caps cover the tips
    assert np.abs(curve[inside, 1] - 60.5).max() <= 0.75  # pixel row 60 is y in [60, 61]
    assert np.abs(curve[:, 1] - 60.5).max() <= 1.0  # a skeleton's end pixel may hook by one
    xs = sorted(ends(stroke)[:, 0])
    assert xs[0] <= 21.5 and xs[1] >= 139.5  # reaches the line's ends (round caps do the rest)


def test_a_circle_is_one_closed_stroke():
    img = canvas(200, 200)
    cv2.circle(img, (100, 100), 60, 255, 4)
    (stroke,) = trace_centrelines(img > 0)
    assert stroke.closed
    radius = np.hypot(*(bezier.sample(stroke.segments) - 100.5).T)
    assert np.abs(radius - 60).max() <= 1.0
    assert f_score(img > 0, [stroke]) >= 0.98


def test_a_t_junction_joins_the_stem_to_the_bar_without_spurs():
    img = canvas()
    cv2.line(img, (20, 30), (140, 30), 255, 5)
    cv2.line(img, (80, 30), (80, 110), 255, 5)
    strokes = trace_centrelines(img > 0)
    assert len(strokes) == 2  # the bar runs straight through; no hairs
    bar, stem = sorted(strokes, key=lambda s: np.ptp(bezier.sample(s.segments)[:, 1]))
    assert np.ptp(bezier.sample(bar.segments)[:, 0]) >= 115
    top = min(ends(stem), key=lambda p: p[1])
    assert abs(top[1] - 30.5) <= 1.0 and abs(top[0] - 80.5) <= 1.0  # ends on the junction
    assert distance_to(top[None], bar.segments)[0] <= 1.0


def test_an_x_crossing_is_two_straight_strokes():
    img = canvas(160, 160)
    cv2.line(img, (20, 20), (140, 140), 255, 5)
    cv2.line(img, (140, 20), (20, 140), 255, 5)
    strokes = trace_centrelines(img > 0)
    assert len(strokes) == 2
    centre = np.array([[80.5, 80.5]])
    for stroke in strokes:
        assert np.hypot(*np.subtract(*ends(stroke))) >= 160  # corner to corner
        assert distance_to(centre, stroke.segments)[0] <= 1.5
    assert f_score(img > 0, strokes) >= 0.97


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7, 9])
def test_the_width_is_recovered_within_half_a_pixel(width):
    centre = 40 + (width % 2 == 0) / 2  # even widths are centred between two pixel rows
    mask = capsule((160, 200), (20, centre), (180, centre), width)  # horizontal
    mask |= capsule((160, 200), (20, 70), (170, 150), width)  # slanted: staircase edges
    strokes = trace_centrelines(mask)
    assert len(strokes) == 2
    for stroke in strokes:
        assert abs(stroke.width - width) <= 0.5, stroke.width


def test_the_fit_stays_within_the_tolerance():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 3 * np.pi, 400)
    points = np.stack([40 * t, 30 * np.sin(t) + rng.normal(0, 0.4, t.size)], axis=1)
    for tolerance in (0.3, 1.0, 3.0):
        segments = bezier.fit(points, tolerance)
        assert distance_to(points, segments).max() <= tolerance
        assert np.allclose(segments[0, 0], points[0]) and np.allclose(segments[-1, 3], points[-1])
    assert len(bezier.fit(points, 3.0)) < len(bezier.fit(points, 0.3))  # looser is simpler


def test_traced_strokes_stay_within_the_tolerance_of_the_centre_line():
    img = canvas(200, 200)
    cv2.ellipse(img, (100, 100), (80, 50), 20, 0, 360, 255, 3)
    from skimage.morphology import skeletonize

    centre = np.argwhere(skeletonize(img > 0))[:, ::-1] + 0.5
    for tolerance in (0.5, 2.0):
        (stroke,) = trace_centrelines(img > 0, tolerance=tolerance)
        # the centre line is smoothed along itself before the fit: its pixel stairs go
        assert distance_to(centre, stroke.segments).max() <= tolerance + 0.75


def test_an_empty_image_gives_an_empty_valid_svg():
    assert trace_centrelines(canvas() > 0) == [] and trace_outlines(canvas() > 0) == []
    root = ET.fromstring(to_svg([], 160, 120))
    assert root.tag == SVG + "svg" and len(root) == 0
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "160",
        "120",
        "0 0 160 120",
    )


def test_the_svg_is_valid_xml_at_the_canvas_size_with_round_stroked_paths():
    img = canvas(90, 210)
    cv2.line(img, (10, 10), (200, 80), 255, 3)
    cv2.circle(img, (60, 50), 25, 255, 2)
    cv2.circle(img, (170, 20), 2, 255, -1)  # a dot
    strokes = trace_centrelines(img > 0)
    root = ET.fromstring(to_svg(strokes, 210, 90, "#1a2b3c"))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "210",
        "90",
        "0 0 210 90",
    )
    paths = root.findall(SVG + "path")
    assert len(paths) == len(strokes) >= 3
    for path, stroke in zip(paths, strokes, strict=True):
        assert path.get("fill") == "none" and path.get("stroke") == "#1a2b3c"
        assert path.get("stroke-linecap") == "round" and path.get("stroke-linejoin") == "round"
        assert float(path.get("stroke-width")) == pytest.approx(stroke.width, abs=0.01)
        assert path.get("d").startswith("M") and ("Z" in path.get("d")) == stroke.closed
    assert f_score(img > 0, strokes) >= 0.95  # the dot is drawn too


def random_stroke(rng, k: int, size: int) -> np.ndarray:
    """A smooth cubic curve (even k) or a polyline whose one or two corners turn by at most
    100° (odd k): a hairpin narrower than the line is one blob, in the raster as on paper."""
    if k % 2:
        points = [rng.uniform(60, size - 60, 2)]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(2, 4))):
            step = rng.uniform(100, 220)
            points.append(points[-1] + step * np.array([np.cos(heading), np.sin(heading)]))
            heading += rng.choice([-1, 1]) * rng.uniform(np.radians(20), np.radians(100))
        return np.clip(np.array(points), 10, size - 10)
    c = rng.uniform(30, size - 30, (4, 2))
    t = np.linspace(0, 1, 80)[:, None]
    return (
        (1 - t) ** 3 * c[0] + 3 * (1 - t) ** 2 * t * c[1] + 3 * (1 - t) * t**2 * c[2] + t**3 * c[3]
    )


def crossing_strokes(rng, count: int, size: int = 512, width: int = 3) -> np.ndarray:
    """`count` random strokes drawn with cv2 that cross each other but never run along each
    other: where a new stroke overlaps the ink so far in one patch bigger than a crossing at
    about 25° makes, it is drawn again elsewhere (two strokes merged along a stretch are one
    thicker stroke to the eye, and to any tracer)."""
    img = np.zeros((size, size), np.uint8)
    drawn = 0
    while drawn < count:
        stroke = np.zeros_like(img)
        points = np.rint(random_stroke(rng, drawn, size)).astype(np.int32)
        cv2.polylines(stroke, [points], False, 255, width, cv2.LINE_8)
        line_width = 5  # cv2 draws thickness 3 five px wide
        overlap = ((stroke > 0) & (img > 0)).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(overlap, connectivity=8)
        if (stats[1:, cv2.CC_STAT_AREA] > 2.5 * line_width**2).any():
            continue
        img |= stroke
        drawn += 1
    return img > 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("count", [4, 8, 12])
def test_no_confetti_on_crossing_strokes(seed, count):
    mask = crossing_strokes(np.random.default_rng(seed), count)
    strokes = trace_centrelines(mask)
    assert all(isinstance(s, Stroke) for s in strokes)  # crossings of thin lines are no blobs
    assert len(strokes) <= 1.5 * count
    assert f_score(mask, strokes) >= 0.95


def test_a_solid_disc_is_filled_and_the_lines_from_it_stay_strokes_that_meet_it():
    shape, centre, radius = (200, 240), (100, 90), 10  # a disc 20 px across on 3 px lines
    mask = np.zeros(shape, bool)
    for end in ((20, 30), (20, 170), (200, 110)):
        mask |= capsule(shape, centre, end, 3)
    mask |= capsule(shape, (140, 180), (230, 120), 3)  # a line on its own
    ys, xs = np.mgrid[: shape[0], : shape[1]]
    from_centre = np.hypot(xs - centre[0], ys - centre[1])
    mask |= from_centre <= radius
    items = trace_centrelines(mask)
    shapes = [i for i in items if isinstance(i, Shape)]
    strokes = [i for i in items if isinstance(i, Stroke)]
    assert len(shapes) == 1 and len(strokes) == 4 and len(items) == 5
    for stroke in strokes:  # no stroke runs on into the disc (no doubled ink) or takes its ink
        reach = np.hypot(*(bezier.sample(stroke.segments) - np.add(centre, 0.5)).T)
        assert reach.min() >= radius and abs(stroke.width - 3) <= 0.6  # 45°: 3.54 alone too
    h, w = shape
    fill = render(to_svg(shapes, w, h), w, h)
    assert fill[from_centre <= radius - 1].all()  # the disc is filled ...
    assert not fill[from_centre > radius + 3].any()  # ... and the fill stops at its edge
    zoomed = to_svg(items, w, h).replace(
        f'width="{w}" height="{h}"', f'width="{4 * w}" height="{4 * h}"'
    )
    drawn = render(zoomed, 4 * w, 4 * h)  # at 4×, as on screen when editing
    assert cv2.connectedComponents(drawn.astype(np.uint8))[0] == 3  # lines meet it: no gaps
    assert f_score(mask, items) >= 0.95
    paths = ET.fromstring(to_svg(items, w, h, "#1a2b3c")).findall(SVG + "path")
    assert [(p.get("fill"), p.get("stroke")) for p in paths] == [("#1a2b3c", "none")] + [
        ("none", "#1a2b3c")
    ] * 4
    assert not any(isinstance(i, Shape) for i in trace_centrelines(mask, blob=0))


@pytest.mark.parametrize("width", [1, 3, 5, 9])
def test_drawings_of_thin_lines_have_no_filled_shapes(width):
    img = canvas(200, 200)
    cv2.ellipse(img, (100, 100), (80, 50), 20, 0, 360, 255, width)
    cv2.line(img, (10, 190), (190, 10), 255, width)  # crosses the ellipse twice
    cv2.line(img, (100, 20), (100, 180), 255, width)  # ... and the other line in its middle
    cv2.circle(img, (170, 170), width, 255, -1)  # a dot as wide as twice the line
    items = trace_centrelines(img > 0)
    assert items and all(isinstance(i, Stroke) for i in items)


def test_outlines_are_filled_shapes_with_holes_that_match_the_raster():
    img = canvas(200, 200)
    cv2.circle(img, (100, 100), 60, 255, 9)
    cv2.line(img, (20, 190), (180, 180), 255, 2)
    (ring, line) = sorted(trace_outlines(img > 0), key=lambda s: -len(s.loops))
    assert len(ring.loops) == 2 and len(line.loops) == 1  # the ring's hole is a hole
    root = ET.fromstring(to_svg([ring, line], 200, 200, "#000000"))
    for path in root.findall(SVG + "path"):
        assert path.get("fill") == "#000000" and path.get("fill-rule") == "evenodd"
    assert f_score(img > 0, [ring, line]) >= 0.98


@pytest.mark.parametrize(
    "style, color, fmt",
    [
        ("white", "#000000", "gray8"),
        ("white", "#3050e0", "bgra8"),
        ("transparent", "#3050e0", "bgra8"),
    ],
)
def test_line_mask_reads_every_result_style(style, color, fmt):
    strength = np.zeros((20, 30), np.float32)
    strength[5:9, 3:25] = 1.0
    strength[12, 3:25] = 0.3  # faint: not a line
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.float32)
    if style == "transparent":
        bgra = np.zeros((20, 30, 4), np.float32)
        bgra[..., :3] = rgb[::-1]
        bgra[..., 3] = 255 * strength
    else:
        paint = strength[..., None] * rgb[::-1] + (1 - strength[..., None]) * 255
        bgra = np.dstack([paint, np.full((20, 30), 255.0)])
    pixels = np.rint(bgra).astype(np.uint8)
    pixels = pixels[..., :1] if fmt == "gray8" else pixels
    mask = line_mask(pixels.tobytes(), 30, 20, fmt, CleanOptions(style=style, color=color))
    assert np.array_equal(mask, strength >= 0.5)
