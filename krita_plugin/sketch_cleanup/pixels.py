"""Krita pixel layouts ↔ protocol formats, and byte work that needs no numpy.

Nothing here imports Krita or Qt, so it runs (and is tested) in any Python. Krita's own
Python may lack numpy, so none is used: the work that scales with the image runs at C speed
on plain bytes (bitwise masking through big integers, `bytes.strip` for emptiness).
"""

from __future__ import annotations

import re
import struct

# (Krita colorModel(), colorDepth()) -> protocol format. Krita stores RGBA U8 and U16 as
# B,G,R,A and the float depths as R,G,B,A; GrayA is gray, alpha.
KRITA_FORMATS = {
    ("RGBA", "U8"): "bgra8",
    ("RGBA", "U16"): "bgra16",
    ("RGBA", "F16"): "rgbaf16",
    ("RGBA", "F32"): "rgbaf32",
    ("GRAYA", "U8"): "graya8",
    ("GRAYA", "U16"): "graya16",
    ("GRAYA", "F32"): "grayaf32",
}

# format -> (channels, bytes per channel, struct code of one sample)
LAYOUTS = {
    "bgra8": (4, 1, "B"),
    "bgra16": (4, 2, "H"),
    "rgbaf16": (4, 2, "e"),
    "rgbaf32": (4, 4, "f"),
    "graya8": (2, 1, "B"),
    "graya16": (2, 2, "H"),
    "grayaf32": (2, 4, "f"),
}

MODEL_NAMES = {
    "RGBA": "RGB",
    "GRAYA": "grayscale",
    "CMYKA": "CMYK",
    "LABA": "L*a*b*",
    "XYZA": "XYZ",
    "YCbCrA": "YCbCr",
    "A": "alpha-only",
}
DEPTH_NAMES = {
    "U8": "8-bit integer",
    "U16": "16-bit integer",
    "F16": "16-bit float",
    "F32": "32-bit float",
}


class Unsupported(ValueError):
    """The layer cannot be cleaned as it is; the message says why and what to do."""


def format_for(color_model: str, color_depth: str) -> str:
    """The protocol format for a Krita layer's colour model and depth, or Unsupported."""
    fmt = KRITA_FORMATS.get((color_model, color_depth))
    if fmt is not None:
        return fmt
    model = MODEL_NAMES.get(color_model, color_model)
    depth = DEPTH_NAMES.get(color_depth, color_depth)
    if color_model in ("RGBA", "GRAYA"):
        return _raise(
            f"{depth} {model} layers are not supported. Convert the image to 8-bit, 16-bit "
            "integer or 32-bit float (Image ▸ Convert Image Color Space…) and try again."
        )
    return _raise(
        f"The layer uses the {model} colour model ({depth}). Sketch Cleanup works on RGB and "
        "grayscale layers only: convert the image to RGB or grayscale (Image ▸ Convert Image "
        "Color Space…), clean it, then convert back if you need to."
    )


def _raise(message: str):
    raise Unsupported(message)


def layout(fmt: str) -> tuple[int, int, int, int]:
    """(bytes per pixel, byte offset of alpha, bytes per sample, channels)."""
    channels, size, _ = LAYOUTS[fmt]
    return channels * size, (channels - 1) * size, size, channels


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
    code = "<" + LAYOUTS[fmt][2]
    integer = code[-1] in "BH"
    for match in _PARTIAL.finditer(mask):
        i = match.start()
        weight = mask[i] / 255.0
        start = i * bpp + offset
        (alpha,) = struct.unpack_from(code, data, start)
        scaled = int(alpha * weight + 0.5) if integer else alpha * weight
        struct.pack_into(code, out, start, scaled)
    return bytes(out)
