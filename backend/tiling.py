"""Run a fully convolutional model over any canvas in bounded memory.

A canvas that fits in one tile (`tile` px a side, 1088 by default) runs whole, in one pass:
no pixel is computed twice. Larger ones are cut into as few tiles as fit, all of one size
and spread evenly, so neighbours overlap by about `2 * overlap` px and no more. Each tile's
prediction is weighted by a window that fades out towards its inner edges, where the network
saw less context, and the weights are normalized so they sum to one; seams do not show.

Memory: tiles are cut from the image as they are needed (paper outside it) and their
weighted predictions are added straight into the output, so besides the input and the
output only one batch of tiles is alive: the weights are separable, and their sums are
two 1-D arrays instead of a canvas-sized one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backend import defaults

PAPER = 1.0
MARGIN = 16  # paper around the image, so border pixels see paper, not zero padding (= ink)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _ramp(size: int, overlap: int) -> np.ndarray:
    """1-D weights: raised cosine over `2 * overlap` px at each end, floor 1e-3."""
    d = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32) + 0.5
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(d / (2 * overlap), 0.0, 1.0))
    return np.maximum(fade, 1e-3).astype(np.float32)


def _axis(length: int, tile: int, overlap: int, multiple: int, bucket: int):
    """(padded length, tile size, tile starts) along one axis of `length` px."""
    whole = _round_up(length, bucket)
    if whole <= tile:
        return whole, whole, [0]
    padded = _round_up(length, multiple)
    if padded <= tile:
        return padded, padded, [0]
    # fewest equal tiles of at most `tile` px whose neighbours share >= 2 * overlap px;
    # starts are rounded down to the grid, which can cost up to `multiple` px of overlap
    need = 2 * overlap + multiple
    count = max(2, -(-(padded - need) // (tile - need)))
    while True:
        size = _round_up(-(-(padded + (count - 1) * need) // count), multiple)
        if size <= tile:
            break
        count += 1
    span = padded - size
    starts = [(i * span // (count - 1)) // multiple * multiple for i in range(count)]
    return padded, size, starts


def plan(height: int, width: int, tile: int, overlap: int, multiple: int, bucket: int = 64) -> dict:
    """Where the tiles go, for a canvas of height x width px (paper margin included).

    A side that fits in a tile is padded to a multiple of `bucket` (a runtime that compiles
    per shape sees few shapes) when that still fits, else to the network's `multiple`.
    """
    ph, th, ys = _axis(height, tile, overlap, multiple, bucket)
    pw, tw, xs = _axis(width, tile, overlap, multiple, bucket)
    return {
        "padded": (ph, pw),
        "tile": (th, tw),
        "ys": ys,
        "xs": xs,
        "origins": [(y, x) for y in ys for x in xs],
    }


def _weights(starts: list[int], size: int, overlap: int, lo: int, hi: int) -> list[np.ndarray]:
    """Per tile, its normalized 1-D blend weights over [lo, hi) ∩ the tile (the image)."""
    if len(starts) == 1:
        return [np.ones(min(hi, size) - lo, np.float32)]
    ramp = _ramp(size, overlap)
    total = np.zeros(starts[-1] + size, np.float32)
    for s in starts:
        total[s : s + size] += ramp
    out = []
    for s in starts:
        a, b = max(s, lo), min(s + size, hi)
        out.append(ramp[a - s : b - s] / total[a:b])
    return out


def check_settings(tile: int, overlap: int, batch: int, multiple: int) -> None:
    """Raise ValueError, saying why, for tiling settings the network cannot use."""
    if tile % multiple or tile <= 4 * overlap or overlap < 1:
        raise ValueError(
            f"--tile must be a multiple of {multiple} and over 4x --overlap (at least 1) "
            f"(got tile {tile}, overlap {overlap})"
        )
    if batch < 1:
        raise ValueError(f"--batch must be at least 1 (got {batch})")


def run_tiled(
    image: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    tile: int = defaults.TILE,
    overlap: int = defaults.OVERLAP,
    batch: int = defaults.BATCH,
    multiple: int = 8,
    progress: Callable[[int, int], None] | None = None,
    bucket: int = 64,
) -> tuple[np.ndarray, int]:
    """Apply `predict` ((N, h, w) -> (N, h, w)) to `image` (H, W); return (output, tiles)."""
    check_settings(tile, overlap, batch, multiple)
    height, width = image.shape
    m = MARGIN
    layout = plan(height + 2 * m, width + 2 * m, tile, overlap, multiple, bucket)
    th, tw = layout["tile"]
    ys, xs = layout["ys"], layout["xs"]
    origins = layout["origins"]
    wys = dict(zip(ys, _weights(ys, th, overlap, m, m + height), strict=True))
    wxs = dict(zip(xs, _weights(xs, tw, overlap, m, m + width), strict=True))

    def cut(y: int, x: int) -> np.ndarray:
        """The tile at padded (y, x): image pixels where it has them, paper elsewhere."""
        piece = np.full((th, tw), PAPER, dtype=np.float32)
        a, b = max(y, m), min(y + th, m + height)
        c, d = max(x, m), min(x + tw, m + width)
        piece[a - y : b - y, c - x : d - x] = image[a - m : b - m, c - m : d - m]
        return piece

    if progress:
        progress(0, len(origins))
    if len(origins) == 1:
        out = predict(cut(0, 0)[None])[0]
        if progress:
            progress(1, 1)
        return out[m : m + height, m : m + width], 1

    output = np.zeros((height, width), dtype=np.float32)
    for first in range(0, len(origins), batch):
        chunk = origins[first : first + batch]
        preds = predict(np.stack([cut(y, x) for y, x in chunk]))
        for (y, x), pred in zip(chunk, preds, strict=True):
            a, b = max(y, m), min(y + th, m + height)
            c, d = max(x, m), min(x + tw, m + width)
            part = pred[a - y : b - y, c - x : d - x] * wys[y][:, None]
            part *= wxs[x][None, :]
            output[a - m : b - m, c - m : d - m] += part
        del preds
        if progress:
            progress(first + len(chunk), len(origins))
    return output, len(origins)
