"""Which pixels a resize reads: what a region request must compute to get the full run's."""

import numpy as np
import pytest

from backend.pipeline import resize
from backend.window import Box, resize_exact, resize_source

SHAPES = [
    ((300, 200), (210, 140)),  # shrinking: INTER_AREA
    ((210, 140), (300, 200)),  # enlarging: INTER_LINEAR
    ((97, 61), (300, 181)),
    ((400, 400), (133, 133)),
    ((256, 256), (128, 128)),  # an integer factor: OpenCV's fast area path
    ((128, 128), (512, 512)),
    ((100, 50), (100, 57)),  # one side kept
]
BOXES = [(0.0, 0.0, 0.1, 0.1), (0.4, 0.3, 0.6, 0.5), (0.9, 0.8, 1.0, 1.0), (0.0, 0.5, 1.0, 0.51)]


def box_in(shape, fractions) -> Box:
    top, left, bottom, right = fractions
    h, w = shape
    return Box(
        int(top * h),
        int(left * w),
        max(int(bottom * h), int(top * h) + 1),
        max(int(right * w), int(left * w) + 1),
    )


@pytest.mark.parametrize("src, dst", SHAPES)
@pytest.mark.parametrize("fractions", BOXES)
def test_pixels_outside_the_source_box_change_nothing_inside(src, dst, fractions):
    """The pixels resize_exact promises are the same whatever lies outside `known`."""
    rng = np.random.default_rng(0)
    image = rng.random(src).astype(np.float32)
    want = box_in(dst, fractions)
    known = resize_source(want, dst, src)
    exact = resize_exact(known, src, dst)
    assert exact.contains(want)
    other = rng.random(src).astype(np.float32)
    other[known.within(Box.of(src))] = image[known.within(Box.of(src))]
    reference = resize(image, *dst)[exact.within(Box.of(dst))]
    np.testing.assert_array_equal(resize(other, *dst)[exact.within(Box.of(dst))], reference)


def test_boxes():
    canvas = Box(0, 0, 100, 80)
    box = Box.from_region((10, 20, 30, 40))
    assert (box.top, box.left, box.bottom, box.right) == (20, 10, 60, 40)
    assert box.to_region() == [10, 20, 30, 40] and box.shape == (40, 30)
    assert box.grown(15, canvas) == Box(5, 0, 75, 55)
    assert box.snapped(32, canvas) == Box(0, 0, 64, 64)
    assert Box(70, 70, 90, 80).snapped(32, canvas) == Box(64, 64, 96, 80)
    assert list(Box(70, 40, 90, 80).cells(32, canvas)) == [Box(64, 32, 96, 64), Box(64, 64, 96, 80)]
    assert list(box.cells(32, canvas)) == [
        Box(0, 0, 32, 32),
        Box(0, 32, 32, 64),
        Box(32, 0, 64, 32),
        Box(32, 32, 64, 64),
    ]
    assert box.intersect(Box(50, 35, 100, 80)) == Box(50, 35, 60, 40)
    assert box.intersect(Box(60, 0, 100, 80)) is None
    assert box.within(canvas) == (slice(20, 60), slice(10, 40))
    with pytest.raises(AssertionError):
        canvas.within(box)
