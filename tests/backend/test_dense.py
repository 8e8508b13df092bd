"""Which pixels the dense pass draws again (backend/dense.py), and at what scale.

The pass itself, over real sockets and with regions cropped exactly, is covered by
tests/backend/test_region.py; what it does to a real rough, by tests/test_shipped_model.py.
"""

import cv2
import numpy as np
import pytest

from backend import dense


def output_with(draw) -> np.ndarray:
    """A first-pass output (paper = 1) with ink (0) drawn by `draw(image)`."""
    image = np.full((200, 300), 255, np.uint8)
    draw(image)
    return image.astype(np.float32) / 255


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_lines_as_wide_as_the_network_draws_them_are_left_alone(scale):
    """The network's lines are 3 working px; up to 4 (4 / scale canvas px) are lines.
    (OpenCV draws a line of thickness t 2 * (t // 2) + 1 px wide.)"""
    thickness = max(1, round(4 / scale) - 2)  # 7, 3, 1 px

    def lines(image):
        cv2.line(image, (10, 20), (290, 60), 0, thickness)
        cv2.line(image, (10, 40), (290, 80), 0, thickness)
        cv2.ellipse(image, (150, 130), (80, 40), 0, 0, 360, 0, thickness)

    assert not dense.weight(output_with(lines), scale).any()


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_a_solid_mass_and_its_rim_are_drawn_again_fading_out(scale):
    half = round(20 / scale)
    output = np.ones((200, 300), np.float32)
    output[100 - half : 100 + half, 150 - half : 150 + half] = 0
    weight = dense.weight(output, scale)
    row, blob = weight[100], output[100] < dense.LINE_LEVEL
    assert (row[blob] == 1).all()  # all of the blob
    edge = int(np.nonzero(blob)[0].max())
    beyond = row[edge:]
    assert (np.diff(beyond) <= 0).all()  # then fading out, within MARGIN + RAMP of the core
    reach = (dense.MARGIN + dense.RAMP - dense.MASS_DEPTH) / scale + 1
    assert beyond[1] > 0 and (beyond[int(np.ceil(reach)) + 1 :] == 0).all()
    assert (weight[:, :20] == 0).all()


def test_five_px_is_the_least_that_counts_at_scale_1():
    for width, counts in [(4, False), (5, True)]:
        output = np.ones((200, 300), np.float32)
        output[100 : 100 + width, 50:250] = 0
        assert dense.weight(output, 1.0).any() == counts, width


def test_a_pixel_reads_no_further_than_the_context():
    """A mass farther than `context` from a pixel leaves its weight at 0."""
    scale = 1.0
    reach = dense.context(scale)
    output = output_with(lambda image: cv2.circle(image, (150, 100), 12, 0, -1))
    weight = dense.weight(output, scale)
    ys, xs = np.nonzero(weight)
    ink_ys, ink_xs = np.nonzero(output < dense.LINE_LEVEL)
    assert ys.min() >= ink_ys.min() - reach and xs.max() <= ink_xs.max() + reach


@pytest.mark.parametrize(
    "scale, finer", [(1.0, 2.0), (0.4, 0.8), (2.0, 4.0), (2.5, 4.0), (3.0, None)]
)
def test_the_second_pass_is_finer_or_skipped(scale, finer):
    """Twice the scale, up to auto scale's top (4), and skipped when that is not 1.5 times."""
    assert dense.finer_scale(scale) == finer
