"""The quality report's line measures, on drawings whose answer is known."""

import numpy as np

from trainer.line_metrics import delivered_width, filled_ink_share, line_width


def lines(width: int, shape=(200, 200)) -> np.ndarray:
    """Horizontal lines exactly ``width`` px wide, 20 px apart."""
    canvas = np.zeros(shape, bool)
    for y in range(20, 190, 20):
        canvas[y : y + width, 15:185] = True
    return canvas


def test_thin_lines_have_no_filled_ink():
    for width in (1, 2, 3, 5):
        assert filled_ink_share(lines(width)) == 0.0


def test_hatching_clogged_into_a_solid_band_is_filled_ink():
    clogged = lines(2)
    clogged[60:140, 40:160] = True  # a solid band where hatching was
    share = filled_ink_share(clogged)
    assert 0.3 < share < 0.9
    # the band dominates a page of lines: most of its pixels lie deep inside ink
    assert share > filled_ink_share(lines(2)) + 0.3


def test_delivered_width_of_straight_lines():
    for width in (1, 2, 3, 5):
        alpha = lines(width).astype(np.float32)
        assert abs(delivered_width(alpha) - width) <= 0.5, width


def test_line_width_ignores_a_few_blobs():
    drawing = lines(3)
    drawing[90:110, 90:110] = True
    # 2 x the ridge's depth measures w px as w (even) or w + 1 (odd): pixel centres
    assert line_width(drawing) == 4.0
