"""Random augmentation of (rough, clean) training pairs.

Geometric transforms (flips, rotation, zoom, translation) are applied identically to input and
target; photometric ones (paper tone, ink contrast, gamma, blur, noise) only to the input.
Arrays are float32 HxW in [0, 1], paper = 1. The target is binary ({0, 1}) before and after:
it is warped with bilinear interpolation and re-thresholded at 0.5, so a line keeps its place
and width to within half a pixel. Areas uncovered by the warp are filled with paper (1.0).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np

__all__ = ["AugmentConfig", "augment_pair", "geometric", "photometric"]


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    hflip: float = 0.5  # probability of a horizontal flip
    vflip: float = 0.5  # probability of a vertical flip
    rotate_deg: float = 10.0  # uniform in [-rotate_deg, rotate_deg]
    zoom: tuple[float, float] = (0.85, 1.2)  # uniform zoom factor (about the centre)
    translate: float = 0.05  # uniform shift, as a fraction of the side
    geometric_p: float = 0.8  # probability of applying the affine warp at all
    paper_tone: tuple[float, float] = (0.78, 1.0)  # paper level (1 = white)
    ink_level: tuple[float, float] = (0.0, 0.35)  # darkest ink (0 = black): lowers contrast
    gamma: tuple[float, float] = (0.7, 1.4)
    blur_p: float = 0.2  # probability of a Gaussian blur, sigma uniform in blur_sigma
    blur_sigma: tuple[float, float] = (0.3, 1.0)
    noise_std: tuple[float, float] = (0.0, 0.03)  # additive Gaussian noise
    photometric_p: float = 0.8

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def none(cls) -> AugmentConfig:
        """No augmentation at all (identity)."""
        return cls(
            hflip=0.0,
            vflip=0.0,
            rotate_deg=0.0,
            zoom=(1.0, 1.0),
            translate=0.0,
            geometric_p=0.0,
            photometric_p=0.0,
            blur_p=0.0,
        )


def geometric(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The same random flips and affine warp applied to the input ``x`` and target ``y``."""
    if rng.random() < cfg.hflip:
        x, y = x[:, ::-1], y[:, ::-1]
    if rng.random() < cfg.vflip:
        x, y = x[::-1, :], y[::-1, :]
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    if rng.random() < cfg.geometric_p:
        h, w = x.shape
        angle = rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
        zoom = rng.uniform(*cfg.zoom)
        tx, ty = rng.uniform(-cfg.translate, cfg.translate, size=2) * (w, h)
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, zoom)
        m[:, 2] += (tx, ty)

        def warp(im: np.ndarray) -> np.ndarray:
            return cv2.warpAffine(
                im,
                m,
                (w, h),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=1.0,
            )

        x = warp(x)
        y = warp(y.astype(np.float32))
        y = (y >= 0.5).astype(np.float32)
    return x, y


def photometric(x: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random paper tone, ink contrast, gamma, blur and noise (input only)."""
    if rng.random() >= cfg.photometric_p:
        return x
    x = x.astype(np.float32, copy=True)
    paper = rng.uniform(*cfg.paper_tone)
    ink = min(rng.uniform(*cfg.ink_level), paper - 0.05)
    x = np.power(np.clip(x, 0.0, 1.0), rng.uniform(*cfg.gamma))
    x = ink + (paper - ink) * x
    if rng.random() < cfg.blur_p:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(*cfg.blur_sigma))
    std = rng.uniform(*cfg.noise_std)
    if std > 0:
        x = x + rng.normal(0.0, std, size=x.shape).astype(np.float32)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def augment_pair(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Augment one pair; returns float32 arrays of the input shape, the target still binary."""
    cfg = cfg or AugmentConfig()
    x, y = geometric(x.astype(np.float32), y.astype(np.float32), rng, cfg)
    return photometric(x, rng, cfg), y
