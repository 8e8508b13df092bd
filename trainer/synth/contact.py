"""Contact sheet: synthetic roughs over their clean targets, beside real pencil roughs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .pairs import make_pair, pair_rng

REAL_FILES = ("revoy_witch_full.png", "revoy_witch_face.png")


def _find_real(real_dir: Path | None) -> Path | None:
    cands = [real_dir] if real_dir else []
    here = Path(__file__).resolve()
    cands += [p / "shared" / "data" / "real" for p in here.parents]
    cands += [p.parent / "shared" / "data" / "real" for p in here.parents]
    for c in cands:
        if c and (c / REAL_FILES[0]).exists():
            return c
    return None


def _read_gray(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FileNotFoundError(f"cannot read the real rough {path}")
    return img


def _label(tile: np.ndarray, text: str, dark: bool = True) -> np.ndarray:
    out = tile.copy()
    h = 22
    out[:h] = 0 if dark else 255
    cv2.putText(
        out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255 if dark else 0, 1, cv2.LINE_AA
    )
    return out


def _fit(img: np.ndarray, size: int, top: int) -> np.ndarray:
    """Real image on a size x size tile, at scale 1 (cropped from ``top``) or enlarged to fit."""
    tile = np.full((size, size), 255, np.uint8)
    h, w = img.shape
    if h < size // 2 and w < size // 2:
        f = min((size - 30) / h, size / w)
        img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
        h, w = img.shape
    img = img[top : top + size, :size]
    h, w = img.shape
    y, x = (size - h) // 2, (size - w) // 2
    tile[y : y + h, x : x + w] = img
    return tile


def contact_sheet(
    path, seed: int = 0, n: int = 6, size: int = 424, real_dir=None, start: int = 0
) -> Path:
    """Write a PNG grid: row 1 synthetic roughs, row 2 their targets, last column real roughs."""
    cols_top, cols_bot = [], []
    for i in range(start, start + n):
        rough, clean = make_pair(pair_rng(seed, i), size)
        cols_top.append(_label(rough, f"SYNTHETIC rough #{i}"))
        cols_bot.append(_label(clean, f"synthetic target #{i}"))
    rd = _find_real(Path(real_dir) if real_dir else None)
    if rd is not None:
        full, face = (_read_gray(rd / name) for name in REAL_FILES)
        cols_top.append(_label(_fit(full, size, 40), "REAL rough (D. Revoy, CC BY 4.0)"))
        f = _fit(face, size, 0)
        cols_bot.append(_label(f, "REAL rough detail, enlarged"))
    sep = np.full((size * 2 + 8, 8), 128, np.uint8)
    cols = []
    for a, b in zip(cols_top, cols_bot, strict=True):
        cols += [np.concatenate([a, np.full((8, size), 128, np.uint8), b]), sep]
    sheet = np.concatenate(cols[:-1], 1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return path
