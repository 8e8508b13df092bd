"""Decode editor pixel buffers to grayscale and encode results back, for every wire format.

Float formats are linear light (Krita's and GIMP's float layers); integer formats are
sRGB-encoded. The network works on sRGB-encoded gray, paper = 1, ink = 0.
"""

from __future__ import annotations

import numpy as np

from sketch_kit.protocol import FORMATS

_DTYPES: dict[tuple[str, int], np.dtype] = {
    ("u", 1): np.dtype(np.uint8),
    ("u", 2): np.dtype("<u2"),
    ("f", 2): np.dtype("<f2"),
    ("f", 4): np.dtype("<f4"),
}


def luma(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rec. 601 luma: how dark a coloured line reads on paper."""
    return 0.299 * r + 0.587 * g + 0.114 * b


def _dtype(fmt: str) -> np.dtype:
    _, size, kind = FORMATS[fmt]
    return np.dtype(_DTYPES[(kind, size)])


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def decode(payload: bytes, width: int, height: int, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (gray composited onto white paper, alpha), both float32 HxW in [0, 1].

    Lean on memory for big layers: integer values are scaled in place, and a format without
    alpha gets a read-only broadcast of ones (no bytes) instead of an alpha plane.
    """
    channels, size, kind = FORMATS[fmt]
    data = np.frombuffer(payload, dtype=_dtype(fmt)).reshape(height, width, len(channels))
    if kind == "u":
        values = data.astype(np.float32)
        values /= np.float32(2 ** (8 * size) - 1)
    else:
        values = np.nan_to_num(data.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        np.clip(values, 0.0, 1.0, out=values)
    color = [i for i, c in enumerate(channels) if c != "A"]
    if kind == "f":
        values[..., color] = linear_to_srgb(values[..., color])
    if channels.replace("A", "") == "Y":
        gray = values[..., channels.index("Y")]
    else:
        gray = luma(*(values[..., channels.index(c)] for c in "RGB"))
    if "A" not in channels:
        gray = np.ascontiguousarray(gray, dtype=np.float32)
        return gray, np.broadcast_to(np.float32(1.0), gray.shape)
    alpha = values[..., channels.index("A")]
    composited = gray * alpha + (1.0 - alpha)
    return composited.astype(np.float32, copy=False), np.ascontiguousarray(alpha)


ENCODE_ROWS = 256  # rows encoded at a time: float temporaries stay a strip, not a canvas


def encode(rgb: np.ndarray, alpha: np.ndarray, fmt: str) -> bytes:
    """Pack sRGB-encoded rgb (HxWx3) and alpha (HxW), floats in [0, 1], as `fmt` bytes.

    Works in strips of ENCODE_ROWS rows into the output buffer, so a big layer needs its
    result bytes and a strip's floats, not several canvas-sized float copies.
    """
    channels, _, _ = FORMATS[fmt]
    height, width = alpha.shape
    out = np.empty((height, width, len(channels)), dtype=_dtype(fmt))
    for y in range(0, height, ENCODE_ROWS):
        rows = slice(y, y + ENCODE_ROWS)
        out[rows] = _encode_strip(rgb[rows], alpha[rows], fmt)
    return out.tobytes()


def _encode_strip(rgb: np.ndarray, alpha: np.ndarray, fmt: str) -> np.ndarray:
    channels, size, kind = FORMATS[fmt]
    if "A" not in channels:  # nowhere to keep transparency: composite onto white paper
        rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])
    planes = {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2], "A": alpha}
    if "Y" in channels:
        planes["Y"] = luma(planes["R"], planes["G"], planes["B"])
    if kind == "f":
        for c in "RGBY":
            if c in planes and c in channels:
                planes[c] = srgb_to_linear(np.clip(planes[c], 0.0, 1.0))
    stacked = np.stack([planes[c] for c in channels], axis=-1)
    stacked = np.clip(stacked, 0.0, 1.0)
    if kind == "u":
        stacked = np.rint(stacked * float(2 ** (8 * size) - 1))
    return stacked.astype(_dtype(fmt))
