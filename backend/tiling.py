"""Run a fully convolutional model over any canvas in bounded memory.

A canvas that fits in one tile (`tile` px a side, 768 by default) runs whole, in one pass:
no pixel is computed twice. Larger ones are cut into as few tiles as fit, all of one size
and spread evenly, so neighbours overlap by about `2 * overlap` px and no more. Each tile's
prediction is weighted by a window that fades out towards its inner edges, where the network
saw less context, and the weights are normalized so they sum to one; seams do not show.

Memory: tiles are cut from the image as they are needed (paper outside it) and their
weighted predictions are added straight into the output, so besides the input and the
output only one batch of tiles is alive: the weights are separable, and their sums are
two 1-D arrays instead of a canvas-sized one.

A window (a region request) runs only the tiles of this same grid that overlap it, so its
pixels are the full run's (run_window).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backend import defaults
from backend.window import Box

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


def _touching(starts: list[int], size: int, length: int, lo: int, hi: int):
    """Along one axis: the tiles that overlap image pixels [lo, hi), and the image span that
    exactly those tiles cover (every tile over it is one of them), which holds [lo, hi)."""
    m = MARGIN
    chosen = [i for i, s in enumerate(starts) if s < hi + m and s + size > lo + m]
    first, last = chosen[0], chosen[-1]
    start = starts[first - 1] + size - m if first > 0 else 0
    stop = starts[last + 1] - m if last + 1 < len(starts) else length
    return chosen, max(0, start), min(length, stop)


def run_window(
    image: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    tile: int = defaults.TILE,
    overlap: int = defaults.OVERLAP,
    batch: int = defaults.BATCH,
    multiple: int = 8,
    progress: Callable[[int, int], None] | None = None,
    bucket: int = 64,
    window: Box | None = None,
) -> tuple[np.ndarray, Box, int]:
    """The output over `window` (default: the image) and as much around it as is exact:
    (output over `exact`, exact, tiles run).

    The tile grid is the whole image's, so a window's pixels equal the full run's bit for
    bit: only the batches holding a tile that overlaps the window run, each exactly as the
    full run sends it (same tiles, same batch), and their blend is summed in the same order.
    `exact` is the box no other tile overlaps.
    """
    check_settings(tile, overlap, batch, multiple)
    height, width = image.shape
    m = MARGIN
    window = window or Box.of(image.shape)
    layout = plan(height + 2 * m, width + 2 * m, tile, overlap, multiple, bucket)
    th, tw = layout["tile"]
    ys, xs = layout["ys"], layout["xs"]
    origins = layout["origins"]
    rows, top, bottom = _touching(ys, th, height, window.top, window.bottom)
    cols, left, right = _touching(xs, tw, width, window.left, window.right)
    exact = Box(top, left, bottom, right)
    chosen = {(ys[i], xs[j]) for i in rows for j in cols}
    batches = [origins[k : k + batch] for k in range(0, len(origins), batch)]
    batches = [part for part in batches if chosen.intersection(part)]
    total = sum(len(part) for part in batches)
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
        progress(0, total)
    if len(origins) == 1:
        out = predict(cut(0, 0)[None])[0]
        if progress:
            progress(1, 1)
        return out[m : m + height, m : m + width], exact, 1

    output = np.zeros(exact.shape, dtype=np.float32)
    done = 0
    for part in batches:
        preds = predict(np.stack([cut(y, x) for y, x in part]))
        for (y, x), pred in zip(part, preds, strict=True):
            # the tile's pixels inside `exact`, in padded coordinates
            a, b = max(y, m + top), min(y + th, m + bottom)
            c, d = max(x, m + left), min(x + tw, m + right)
            if a >= b or c >= d:
                continue  # a batch neighbour of a chosen tile: run only to keep the batch
            wy, wx = wys[y], wxs[x]
            y0, x0 = max(y, m), max(x, m)  # where the tile's weights start
            blended = pred[a - y : b - y, c - x : d - x] * wy[a - y0 : b - y0, None]
            blended *= wx[None, c - x0 : d - x0]
            output[a - m - top : b - m - top, c - m - left : d - m - left] += blended
        del preds
        done += len(part)
        if progress:
            progress(done, total)
    return output, exact, total


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
    output, _, tiles = run_window(image, predict, tile, overlap, batch, multiple, progress, bucket)
    return output, tiles
