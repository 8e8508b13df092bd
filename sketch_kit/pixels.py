"""Byte work on a layer's pixels that needs no numpy (editors' Pythons may lack it).

The work that scales with the image runs at C speed on plain bytes: bitwise masking
through big integers, `bytes.strip` for emptiness.
"""

from __future__ import annotations

import re
import struct

from .protocol import FORMATS

# (bytes per channel, sample kind) -> struct code of one sample
_SAMPLE_CODES = {(1, "u"): "B", (2, "u"): "H", (2, "f"): "e", (4, "f"): "f"}


def layout(fmt: str) -> tuple[int, int, int, int]:
    """(bytes per pixel, byte offset of alpha, bytes per sample, channels)."""
    order, size, _ = FORMATS[fmt]
    if "A" not in order:
        raise ValueError(f"{fmt} has no alpha channel")
    channels = len(order)
    return channels * size, order.index("A") * size, size, channels


def has_visible_pixels(data: bytes, fmt: str) -> bool:
    """True when any pixel's alpha is not zero."""
    bpp, offset, size, _ = layout(fmt)
    for k in range(size):
        if bytes(data[offset + k :: bpp]).strip(b"\0"):
            return True
    return False


def intersect(a: tuple, b: tuple) -> tuple[int, int, int, int]:
    """Intersection of two (x, y, w, h) rectangles; w or h is 0 when they do not meet."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


_PARTIAL = re.compile(rb"[\x01-\xfe]")
_KEEP = bytes([0xFF if v == 255 else 0 for v in range(256)])


def mask_alpha(data: bytes, fmt: str, mask: bytes) -> bytes:
    """Multiply each pixel's alpha by mask/255 (one mask byte per pixel: a selection).

    Fully selected pixels keep their bytes, unselected ones get alpha 0 (bitwise, at C
    speed, for every depth: 0.0 is all-zero bytes in IEEE floats too), and only the
    partly selected pixels of soft selection edges are scaled one by one.
    """
    bpp, offset, size, _ = layout(fmt)
    count = len(mask)
    if len(data) != count * bpp:
        raise ValueError(f"{len(data)} bytes of {fmt} do not match a mask of {count} pixels")
    out = bytearray(data)
    keep = mask.translate(_KEEP)
    keep_int = int.from_bytes(keep, "little")
    for k in range(size):
        column = int.from_bytes(out[offset + k :: bpp], "little") & keep_int
        out[offset + k :: bpp] = column.to_bytes(count, "little")
    _, size, kind = FORMATS[fmt]
    code = "<" + _SAMPLE_CODES[(size, kind)]
    integer = code[-1] in "BH"
    for match in _PARTIAL.finditer(mask):
        i = match.start()
        weight = mask[i] / 255.0
        start = i * bpp + offset
        (alpha,) = struct.unpack_from(code, data, start)
        scaled = int(alpha * weight + 0.5) if integer else alpha * weight
        struct.pack_into(code, out, start, scaled)
    return bytes(out)


def around(outer: tuple, inner: tuple) -> list[tuple[int, int, int, int]]:
    """The parts of rectangle `outer` outside `inner`: at most four (x, y, w, h) bands
    (above, below, left, right), none empty."""
    x, y, w, h = outer
    ix, iy, iw, ih = intersect(outer, inner)
    if iw == 0 or ih == 0:
        return [(x, y, w, h)] if w and h else []
    parts = [
        (x, y, w, iy - y),
        (x, iy + ih, w, y + h - iy - ih),
        (x, iy, ix - x, ih),
        (ix + iw, iy, x + w - ix - iw, ih),
    ]
    return [p for p in parts if p[2] > 0 and p[3] > 0]


def bands(rect: tuple, bpp: int, limit: int = 1 << 24) -> list[tuple[int, int, int, int]]:
    """`rect` cut into bands of whole rows of at most `limit` bytes (at least one row each),
    so filling a large area never needs one area-sized buffer."""
    x, y, w, h = rect
    rows = max(1, limit // max(1, w * bpp))
    return [(x, top, w, min(rows, y + h - top)) for top in range(y, y + h, rows)]
