"""Line weight on synthetic lines of known geometry: the asked width comes back ±0.5 px
(anti-aliased), whatever the thickness the lines were drawn at; `auto`'s thinning keeps what
is already thinner as drawn and brings bolder lines down to the width."""

import cv2
import numpy as np
import pytest

from backend import line_weight
from backend.window import Box

SIDE = 256
SHIFT = 4  # cv2 sub-pixel bits: coordinates are in 1/16 px
ANGLES = (0, 10, 22.5, 30, 45, 60, 80, 90, 135)
RAW = (1, 3, 7)
ASKED = (1, 2, 3, 5)


def fixed(value: float) -> int:
    return int(round(value * (1 << SHIFT)))


def straight(angle: float, thick: int) -> np.ndarray:
    """Line strength (1 = line) of a long line through the centre at `angle` degrees."""
    image = np.zeros((SIDE, SIDE), np.uint8)
    c, t = SIDE / 2, np.deg2rad(angle)
    dx, dy = 2 * SIDE * np.cos(t), 2 * SIDE * np.sin(t)
    p1, p2 = (fixed(c - dx), fixed(c - dy)), (fixed(c + dx), fixed(c + dy))
    cv2.line(image, p1, p2, 255, thick, cv2.LINE_AA, shift=SHIFT)
    return image / 255.0


def width_in_disk(strength: np.ndarray, radius: float = 90) -> float:
    """Ink area inside a disk around the centre / the length of the line inside it."""
    yy, xx = np.mgrid[:SIDE, :SIDE]
    disk = (yy - SIDE / 2) ** 2 + (xx - SIDE / 2) ** 2 <= radius**2
    return float(strength[disk].sum() / (2 * radius))


@pytest.mark.parametrize("raw", RAW)
@pytest.mark.parametrize("width", ASKED)
def test_straight_lines_at_every_angle_come_back_at_the_asked_width(raw, width):
    for angle in ANGLES:
        got = width_in_disk(line_weight.restroke(straight(angle, raw), width, soft=True))
        assert abs(got - width) <= 0.5, (angle, got)


@pytest.mark.parametrize("raw", RAW)
@pytest.mark.parametrize("width", ASKED)
def test_hard_lines_are_whole_pixels_near_the_asked_width(raw, width):
    """Binary pixels: exact along the axes; a diagonal samples the band at pixel centres,
    which can be up to 0.6 px off (3 px at 45° is 3 or 5 pixels a row: 2.1 or 3.5 px)."""
    for angle in ANGLES:
        out = line_weight.restroke(straight(angle, raw), width, soft=False)
        assert set(np.unique(out)) <= {0.0, 1.0}
        tolerance = 0.05 if angle % 90 == 0 else 0.6
        assert abs(width_in_disk(out) - width) <= tolerance, angle


@pytest.mark.parametrize("raw", RAW)
@pytest.mark.parametrize("width", ASKED)
def test_circle(raw, width):
    radius = 70.3
    image = np.zeros((SIDE, SIDE), np.uint8)
    centre = (fixed(SIDE / 2 + 0.3), fixed(SIDE / 2 - 0.2))
    cv2.circle(image, centre, fixed(radius), 255, raw, cv2.LINE_AA, shift=SHIFT)
    out = line_weight.restroke(image / 255.0, width, soft=True)
    assert abs(out.sum() / (2 * np.pi * radius) - width) <= 0.5


@pytest.mark.parametrize("raw", RAW)
@pytest.mark.parametrize("width", ASKED)
def test_curve(raw, width):
    """A sine wave across the canvas, measured between x = 64 and x = 192."""
    x = np.linspace(-10, SIDE + 10, 4000)
    y = SIDE / 2 + 50 * np.sin(2 * np.pi * x / 150)
    points = np.stack([np.rint(x * 16), np.rint(y * 16)], axis=1).astype(np.int32)
    image = np.zeros((SIDE, SIDE), np.uint8)
    cv2.polylines(image, [points], False, 255, raw, cv2.LINE_AA, shift=SHIFT)
    out = line_weight.restroke(image / 255.0, width, soft=True)
    inside = (x >= 63.5) & (x <= 191.5)  # pixel columns 64..191
    length = np.hypot(np.diff(x[inside]), np.diff(y[inside])).sum()
    assert abs(out[:, 64:192].sum() / length - width) <= 0.5


def test_a_line_of_uneven_thickness_comes_back_even():
    """A wedge from 2 to 14 px thick, like a network unsure along one stroke."""
    image = np.zeros((SIDE, SIDE), np.uint8)
    wedge = np.array([[10, 127], [246, 121], [246, 135], [10, 129]], np.int32)
    cv2.fillPoly(image, [wedge], 255)
    out = line_weight.restroke(image / 255.0, 3, soft=True)
    thin, thick = out[:, 30:90].sum() / 60, out[:, 170:230].sum() / 60
    assert abs(thin - 3) <= 0.5 and abs(thick - 3) <= 0.5


def test_the_new_stroke_is_centred_on_the_old_one():
    out = line_weight.restroke(straight(0, 7), 1, soft=False)
    rows = np.nonzero(out[:, 100:150].any(axis=1))[0]
    assert list(rows) == [SIDE // 2]


def test_pinholes_in_a_thick_stroke_do_not_become_a_mesh():
    band = np.zeros((60, 200), np.float32)
    band[20:40, 10:190] = 1.0
    for x in range(20, 180, 12):  # pinholes of 2x2 px, as an unsure network leaves them
        band[26:28, x : x + 2] = 0.0
    assert line_weight.centre_line(band, 2.0)[:, 30:170].sum(axis=0).max() == 1  # one line
    loop = np.zeros((60, 60), np.float32)
    cv2.circle(loop, (30, 30), 12, 1.0, 2)  # a drawn loop keeps its hole
    assert not line_weight.centre_line(loop, 2.0)[30, 30]


def test_an_empty_mask_stays_empty_and_dots_stay_dots():
    assert not line_weight.restroke(np.zeros((40, 50)), 3, soft=True).any()
    dot = np.zeros((40, 50))
    dot[20, 25] = 1.0
    out = line_weight.restroke(dot, 3, soft=False)
    assert out.sum() == 9 and out[19:22, 24:27].all()  # a 3 px dot


def details() -> np.ndarray:
    """Binary strength of what thinning must keep: 2 px strokes (long, curved, short hatch
    strokes), a small closed loop (an eye), a 3 px dot and a single pixel."""
    image = np.zeros((120, 160), np.uint8)
    cv2.line(image, (10, 20), (150, 34), 255, 2)
    cv2.ellipse(image, (60, 80), (40, 22), 15, 200, 340, 255, 2)
    for x in range(20, 60, 6):  # hatching: 8 px strokes
        cv2.line(image, (x, 100), (x + 4, 107), 255, 2)
    cv2.circle(image, (120, 80), 5, 255, 2)  # a small loop with its hole
    image[60:63, 140:143] = 255  # a dot
    image[110, 150] = 255
    return (image > 0).astype(np.float32)


@pytest.mark.parametrize("width", [3, 4, 5])
@pytest.mark.parametrize("soft", [True, False])
def test_thinning_keeps_lines_narrower_than_the_width_as_drawn(width, soft):
    """Every stroke keeps its full length, and small details (short strokes, a loop, dots)
    survive: thinning to a width leaves what is already thinner untouched (anti-aliased: the
    corners of a stroke's pixel steps, 1.4 px off its centre line, may come back half
    covered, still ink)."""
    strength = details()
    out = line_weight.restroke(strength, width, soft, thin=True)
    if soft:
        assert (out <= strength).all() and (out[strength > 0] >= 0.5).all()
    else:
        np.testing.assert_array_equal(out, strength)


@pytest.mark.parametrize("raw", [7, 11])
@pytest.mark.parametrize("width", [2, 3])
def test_thinning_brings_bold_lines_down_to_the_width(raw, width):
    for angle in ANGLES:
        strength = (straight(angle, raw) >= 0.5).astype(np.float32)
        out = line_weight.restroke(strength, width, soft=True, thin=True)
        assert abs(width_in_disk(out) - width) <= 0.5, (angle, width_in_disk(out))
        assert (out <= strength).all()  # never ink where the network drew none


@pytest.mark.parametrize("width", [2, 3])
def test_a_bold_stroke_keeps_its_length(width):
    """The centre line of a stroke w px wide stops about w/2 short of each end; the cut
    band loses no more of the end than the half of the stroke that was bolder than the width
    (and the half pixel an even width is moved by)."""
    raw = 9
    image = np.zeros((60, 220), np.uint8)
    cv2.line(image, (30, 30), (190, 30), 255, raw)
    strength = (image > 0).astype(np.float32)
    out = line_weight.restroke(strength, width, soft=False, thin=True)
    before, after = np.nonzero(strength.any(axis=0))[0], np.nonzero(out.any(axis=0))[0]
    lost = (raw - width) / 2 + 1.5
    assert after[0] - before[0] <= lost and before[-1] - after[-1] <= lost


def holes(mask: np.ndarray) -> int:
    """Number of paper areas enclosed by ink (4-connected paper, 8-connected ink)."""
    paper = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    return cv2.connectedComponents(paper, connectivity=4)[0] - 2  # less background, outside


@pytest.mark.parametrize("width", [2, 3])
def test_thinning_a_solid_area_with_pinholes_does_not_make_loops(width):
    """Pinholes in a blob the network drew solid are ink, not small loops of line."""
    blob = np.zeros((80, 200), np.float32)
    blob[20:50, 10:190] = 1.0
    cv2.circle(blob, (100, 60), 14, 1.0, -1)
    for x in range(20, 180, 11):  # pinholes of 1 to 2 px, as an unsure network leaves them
        blob[30 + x % 7 : 32 + x % 7, x : x + 1 + x % 2] = 0.0
    out = line_weight.restroke(blob, width, soft=False, thin=True) > 0.5
    assert holes(blob > 0.5) > 10 and holes(out) == 0
    assert out.any() and (out <= (blob > 0.5) | ~(blob > 0.5)).all()


@pytest.mark.parametrize("width", [2, 3])
def test_thinning_keeps_a_solid_dot_and_thins_a_bold_dash(width):
    """A filled pupil is a dot, not a line: it stays as drawn; a dash 4 times as long as
    it is wide is a stroke, brought down to the width."""
    image = np.zeros((80, 160), np.uint8)
    cv2.ellipse(image, (40, 40), (5, 7), 0, 0, 360, 255, -1)  # 11 x 15 px
    cv2.rectangle(image, (80, 35), (124, 45), 255, -1)  # 45 x 11 px
    strength = (image > 0).astype(np.float32)
    out = line_weight.restroke(strength, width, soft=False, thin=True)
    np.testing.assert_array_equal(out[:, :70], strength[:, :70])
    dash = out[:, 70:]
    assert dash.any() and dash.sum() < 0.5 * strength[:, 70:].sum()


def test_auto_width_is_one_pencil_pass_within_clean_ink():
    low, high = line_weight.AUTO_WIDTH_RANGE
    assert line_weight.auto_width(3.5) == pytest.approx(3.5 * line_weight.AUTO_WIDTH_FRACTION)
    assert line_weight.auto_width(0.3) == low and line_weight.auto_width(12.0) == high
    assert line_weight.auto_width(None) == low


def sketch_strength(height=700, width=600, seed=0) -> np.ndarray:
    """Line strength of a drawing's strokes (some 3 px, some thicker where they cross)."""
    from tests.support import fixtures

    return (fixtures.drawing(height, width, seed=seed) < 128).astype(np.float32)


@pytest.mark.parametrize("width", [1, 2.5, 4, 8])
@pytest.mark.parametrize("soft", [True, False])
@pytest.mark.parametrize("thin", [False, True])
def test_blocks_give_the_whole_canvas_result(width, soft, thin):
    """Blocks with their context re-stroke the strokes as the whole canvas at once does."""
    strength = sketch_strength()
    whole = line_weight.restroke(strength, width, soft, thin)
    blocks = line_weight.restroke_blocks(strength, width, soft, thin=thin)
    assert strength.shape[0] > 2 * line_weight.BLOCK  # really in blocks
    np.testing.assert_array_equal(blocks, whole)


@pytest.mark.parametrize(
    "want", [Box(0, 0, 50, 60), Box(240, 250, 270, 280), Box(600, 10, 700, 600)]
)
@pytest.mark.parametrize("thin", [False, True])
def test_a_region_reads_only_what_needed_says(want, thin):
    strength = sketch_strength(seed=1)
    canvas = Box.of(strength.shape)
    full = line_weight.restroke_blocks(strength, 3, True, thin=thin)
    box = line_weight.needed(want, 3, canvas)
    assert box != canvas
    part = line_weight.restroke_blocks(
        strength[box.within(canvas)], 3, True, box, want, canvas, thin
    )
    np.testing.assert_array_equal(part, full[want.within(canvas)])
