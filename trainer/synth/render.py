"""Render the clean target: one crisp, dark, anti-aliased line per stroke."""

from __future__ import annotations

import cv2
import numpy as np

from .curves import Stroke

SS = 2  # supersampling factor (half-pixel width steps, clean anti-aliasing)
SHIFT = 3  # fractional bits of cv2 drawing coordinates


def to_cv(pts: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return np.round(pts * (scale * (1 << SHIFT))).astype(np.int32)


def render_clean(
    lines: list[Stroke], size: int, base_width: float, uniform: bool = False
) -> np.ndarray:
    """uint8 image, paper 255, ink 0; line width ``base_width * stroke.width`` px, or
    ``base_width`` for every stroke when ``uniform``."""
    canvas = np.zeros((size * SS, size * SS), np.uint8)
    groups: dict[int, list[np.ndarray]] = {}
    for st in lines:
        t = max(2, int(round(base_width * (1.0 if uniform else st.width) * SS)))
        groups.setdefault(t, []).append(to_cv(st.pts, SS))
    for t, polys in groups.items():
        cv2.polylines(canvas, polys, False, 255, t, cv2.LINE_AA, SHIFT)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return 255 - small
