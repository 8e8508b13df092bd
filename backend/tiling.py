"""Run a fully convolutional model over any canvas in bounded memory.

Large images are cut into fixed-size overlapping tiles (one compiled shape, batched on the
device); each tile's prediction is weighted by a window that fades out towards its edges,
where the network saw zero padding instead of context, and the weighted sum is normalized,
so seams do not show.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PAPER = 1.0
MARGIN = 16  # paper around the image, so border pixels see paper, not zero padding (= ink)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def _ramp(tile: int, overlap: int) -> np.ndarray:
    """1-D weights: raised cosine over `2 * overlap` px at each end, floor 1e-3."""
    d = np.minimum(np.arange(tile), np.arange(tile)[::-1]).astype(np.float32) + 0.5
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(d / (2 * overlap), 0.0, 1.0))
    return np.maximum(fade, 1e-3).astype(np.float32)


def plan(height: int, width: int, tile: int, overlap: int, multiple: int) -> dict:
    """Where the tiles go. Small images become one tile, padded to a multiple of 64 (few
    distinct shapes, so few recompilations)."""
    if height <= tile and width <= tile:
        bucket = max(64, multiple)
        padded = (_round_up(height, bucket), _round_up(width, bucket))
        return {"padded": padded, "tile": None, "origins": [(0, 0)]}
    step = tile - 2 * overlap
    # every tile starts on the network's grid, so its poolings line up with the full image's
    step -= step % multiple
    padded = (_round_up(max(height, tile), multiple), _round_up(max(width, tile), multiple))
    origins = [
        (y, x) for y in _starts(padded[0], tile, step) for x in _starts(padded[1], tile, step)
    ]
    return {"padded": padded, "tile": tile, "origins": origins}


def run_tiled(
    image: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    tile: int = 512,
    overlap: int = 32,
    batch: int = 4,
    multiple: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Apply `predict` ((N, h, w) -> (N, h, w)) to `image` (H, W); return (output, tiles)."""
    if tile % multiple or overlap * 4 >= tile:
        raise ValueError(f"tile must be a multiple of {multiple} and over 4x the overlap")
    height, width = image.shape
    m = MARGIN
    layout = plan(height + 2 * m, width + 2 * m, tile, overlap, multiple)
    ph, pw = layout["padded"]
    padded = np.full((ph, pw), PAPER, dtype=np.float32)
    padded[m : m + height, m : m + width] = image
    inside = (slice(m, m + height), slice(m, m + width))
    if layout["tile"] is None:
        if progress:
            progress(0, 1)
        out = predict(padded[None])[0]
        if progress:
            progress(1, 1)
        return out[inside], 1

    window = np.outer(_ramp(tile, overlap), _ramp(tile, overlap))
    total = np.zeros((ph, pw), dtype=np.float32)
    weight = np.zeros((ph, pw), dtype=np.float32)
    origins = layout["origins"]
    if progress:
        progress(0, len(origins))
    for first in range(0, len(origins), batch):
        chunk = origins[first : first + batch]
        tiles = np.stack([padded[y : y + tile, x : x + tile] for y, x in chunk])
        for (y, x), pred in zip(chunk, predict(tiles), strict=True):
            total[y : y + tile, x : x + tile] += pred * window
            weight[y : y + tile, x : x + tile] += window
        if progress:
            progress(first + len(chunk), len(origins))
    return (total / weight)[inside], len(origins)
