"""Rectangles of pixels, and which pixels a resize reads: what a region request computes.

A region's pixels must equal the same crop of the full result, so every step works out
which of its input pixels an output pixel depends on and computes at least those, exactly
as the full run does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# cv2.resize (INTER_AREA shrinking, INTER_LINEAR enlarging) reads source pixels at most
# this far beyond the span [dst * k, (dst + 1) * k) that a destination pixel covers
RESIZE_REACH = 2


@dataclass(frozen=True)
class Box:
    """Pixels [top, bottom) x [left, right) of an image."""

    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def of(cls, shape: tuple[int, ...]) -> Box:
        """The whole of an array of this (height, width, ...) shape."""
        return cls(0, 0, shape[0], shape[1])

    @classmethod
    def from_region(cls, region: tuple[int, int, int, int]) -> Box:
        """A protocol region [x, y, width, height]."""
        x, y, w, h = region
        return cls(y, x, y + h, x + w)

    def to_region(self) -> list[int]:
        return [self.left, self.top, self.right - self.left, self.bottom - self.top]

    @property
    def shape(self) -> tuple[int, int]:
        return self.bottom - self.top, self.right - self.left

    def grown(self, by: int, limit: Box) -> Box:
        """This box `by` px larger on every side, within `limit`."""
        return Box(
            max(self.top - by, limit.top),
            max(self.left - by, limit.left),
            min(self.bottom + by, limit.bottom),
            min(self.right + by, limit.right),
        )

    def snapped(self, step: int, limit: Box) -> Box:
        """The smallest box on a grid of `step` px from (0, 0) that holds this one."""
        return Box(
            self.top // step * step,
            self.left // step * step,
            min(-(-self.bottom // step) * step, limit.bottom),
            min(-(-self.right // step) * step, limit.right),
        )

    def cells(self, step: int, limit: Box) -> Iterator[Box]:
        """The cells of a grid of `step` px from (0, 0), cut to `limit`, that this box touches,
        row by row."""
        grid = self.snapped(step, limit)
        for top in range(grid.top, grid.bottom, step):
            for left in range(grid.left, grid.right, step):
                yield Box(top, left, min(top + step, limit.bottom), min(left + step, limit.right))

    def intersect(self, other: Box) -> Box | None:
        box = Box(
            max(self.top, other.top),
            max(self.left, other.left),
            min(self.bottom, other.bottom),
            min(self.right, other.right),
        )
        return box if box.top < box.bottom and box.left < box.right else None

    def contains(self, other: Box) -> bool:
        return (
            self.top <= other.top
            and self.left <= other.left
            and other.bottom <= self.bottom
            and other.right <= self.right
        )

    def within(self, outer: Box) -> tuple[slice, slice]:
        """Index of this box in an array that covers `outer` (which must contain it)."""
        assert outer.contains(self), (self, outer)
        return (
            slice(self.top - outer.top, self.bottom - outer.top),
            slice(self.left - outer.left, self.right - outer.left),
        )


def _reads(first: np.ndarray, stop: np.ndarray, n_dst: int, n_src: int):
    """Source spans [lo, hi) that destination pixels [first, stop) are resized from."""
    k = n_src / n_dst
    lo = np.maximum(np.floor(first * k).astype(np.int64) - RESIZE_REACH, 0)
    hi = np.minimum(np.ceil(stop * k).astype(np.int64) + RESIZE_REACH, n_src)
    return lo, hi


def resize_source(box: Box, dst_shape: tuple[int, int], src_shape: tuple[int, int]) -> Box:
    """The source pixels that the destination pixels in `box` are resized from."""
    top, bottom = _reads(np.array(box.top), np.array(box.bottom), dst_shape[0], src_shape[0])
    left, right = _reads(np.array(box.left), np.array(box.right), dst_shape[1], src_shape[1])
    return Box(int(top), int(left), int(bottom), int(right))


def _exact_span(lo: int, hi: int, n_dst: int, n_src: int) -> tuple[int, int]:
    every = np.arange(n_dst)
    first, stop = _reads(every, every + 1, n_dst, n_src)
    ok = np.nonzero((first >= lo) & (stop <= hi))[0]  # one run: both ends only grow
    return int(ok[0]), int(ok[-1]) + 1


def resize_exact(known: Box, src_shape: tuple[int, int], dst_shape: tuple[int, int]) -> Box:
    """The destination pixels whose every source pixel lies in `known` (at least those that
    `resize_source` mapped into it)."""
    top, bottom = _exact_span(known.top, known.bottom, dst_shape[0], src_shape[0])
    left, right = _exact_span(known.left, known.right, dst_shape[1], src_shape[1])
    return Box(top, left, bottom, right)
