"""Paper and scanner: turn graphite density into a scanned grayscale image."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .rough import lowfreq, tooth


@dataclass
class ScanStyle:
    paper: float = 0.95  # paper reflectance (yellowish/gray paper scans below 1)
    light: float = 0.05  # uneven lighting: gradient + vignette strength
    fiber: float = 0.02  # paper texture visible on the bare paper
    dark: float = 0.85  # darkest graphite (fraction of the paper's reflectance absorbed)
    blue_dark: float = 0.3  # how dark blue pencil scans in grayscale
    blur: float = 0.5  # px (gaussian sigma)
    resample: float = 1.0  # <1: resolution lost (down- then up-sampled)
    levels: bool = True  # auto-levels: paper pushed to white, ink stretched
    gamma: float = 1.0
    noise: float = 0.01  # sensor noise (fraction of full scale)
    jpeg: int = 0  # JPEG quality, 0 = none
    ruled: int = 0  # printed paper: 0 plain, 1 lined, 2 grid
    ruled_dark: float = 0.1  # how dark the printed rules scan
    ruled_step: float = 24.0  # px between rules
    shadow: float = 0.0  # a hand's or phone's soft shadow over part of a photographed page


def sample_scan(
    rng: np.random.Generator,
    mild: bool = False,
    faint: bool | None = None,
    photo: bool | None = None,
) -> ScanStyle:
    """A random scan; ``faint`` / ``photo`` force (True) or forbid (False) those looks."""
    if mild:  # a clean digital drawing, lightly degraded
        return ScanStyle(
            paper=rng.uniform(0.9, 1.0),
            light=rng.uniform(0, 0.03),
            fiber=rng.uniform(0, 0.01),
            dark=rng.uniform(0.8, 1.0),
            blur=rng.uniform(0, 0.6),
            resample=1.0,
            levels=bool(rng.random() < 0.7),
            gamma=rng.uniform(0.85, 1.15),
            noise=rng.uniform(0, 0.012),
            jpeg=int(rng.integers(60, 96)) if rng.random() < 0.4 else 0,
        )
    draw_faint, draw_photo = rng.random() < 0.15, rng.random() < 0.15
    faint = draw_faint if faint is None else faint  # a light hand, a hard lead, a dim photo
    photo = draw_photo if photo is None else photo  # a phone photo: uneven light, shadow, JPEG
    ruled = int(rng.choice(3, p=[0.84, 0.1, 0.06]))
    return ScanStyle(
        paper=rng.uniform(0.78, 1.0),
        light=rng.uniform(0.1, 0.35) if photo else rng.uniform(0, 0.15) * (rng.random() < 0.6),
        fiber=rng.uniform(0, 0.04),
        dark=rng.uniform(0.15, 0.5) if faint else rng.uniform(0.7, 0.97),
        blue_dark=rng.uniform(0.15, 0.55),  # non-photo blue scans light, red darker
        ruled=ruled,
        ruled_dark=rng.uniform(0.05, 0.25),
        ruled_step=rng.uniform(14, 40),
        shadow=rng.uniform(0.1, 0.45) if photo and rng.random() < 0.6 else 0.0,
        blur=rng.uniform(0.0, 0.9) if rng.random() < 0.7 else 0.0,
        resample=rng.uniform(0.55, 0.9) if rng.random() < 0.15 else 1.0,
        levels=bool(rng.random() < (0.3 if faint else 0.75)),
        gamma=float(np.exp(rng.normal(0, 0.2))),
        noise=rng.uniform(0, 0.025),
        jpeg=int(rng.integers(30, 95)) if photo or rng.random() < 0.5 else 0,
    )


def rules(rng: np.random.Generator, size: int, sc: ScanStyle) -> np.ndarray:
    """Printed rules of lined or grid paper, as absorbed fraction in [0, 1]."""
    m = np.zeros((size, size), np.float32)
    step = sc.ruled_step
    ang = rng.normal(0, 0.01)
    for axis in range(sc.ruled):
        off = rng.uniform(0, step)
        for y in np.arange(off, size * 1.1, step):
            y0 = y + ang * size
            p0, p1 = (0, int(y) << 3), (size << 3, int(y0) << 3)
            if axis:
                p0, p1 = p0[::-1], p1[::-1]
            cv2.line(m, p0, p1, 1.0, 1, cv2.LINE_AA, 3)
    return m * sc.ruled_dark


def scan(
    rng: np.random.Generator, ink: np.ndarray, sc: ScanStyle, blue: np.ndarray | None = None
) -> np.ndarray:
    """uint8 scan of graphite density ``ink`` (and blue pencil density ``blue``)."""
    size = ink.shape[0]
    paper = np.full((size, size), sc.paper, np.float32)
    if sc.light > 0:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
        ang = rng.uniform(0, 2 * np.pi)
        grad = (np.cos(ang) * xx + np.sin(ang) * yy) * rng.uniform(0, 1)
        vig = (xx**2 + yy**2) * rng.uniform(0, 1.5)
        blot = lowfreq(rng, size, 3) - 0.5
        paper *= 1 - sc.light * (grad + 0.5 + vig + 0.3 * blot)
    if sc.fiber > 0:
        paper *= 1 - sc.fiber * tooth(rng, size)
    if sc.ruled:
        paper *= 1 - rules(rng, size, sc)
    if sc.shadow > 0:  # a soft shadow reaching in from one side
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        ang = rng.uniform(0, 2 * np.pi)
        edge = np.cos(ang) * (xx - 0.5) + np.sin(ang) * (yy - 0.5)
        reach = rng.uniform(0.0, 0.4) + 0.08 * (lowfreq(rng, size, 4) - 0.5)
        paper *= 1 - sc.shadow / (1 + np.exp(-(edge - reach) * rng.uniform(8, 30)))
    img: np.ndarray = paper * (1 - sc.dark * ink)
    if blue is not None:
        img *= 1 - sc.blue_dark * blue
    if sc.blur > 0.15:
        img = cv2.GaussianBlur(img, (0, 0), sc.blur)
    if sc.resample < 1:
        small = max(8, int(size * sc.resample))
        img = cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA)
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    if sc.levels:  # scanner auto-levels: bare paper to white, darkest ink to near black
        white = float(np.percentile(img[::4, ::4], 90)) * rng.uniform(0.93, 1.0)
        black = float(img.min()) * rng.uniform(0.0, 1.0)
        img = (img - black) / max(white - black, 1e-3)
    img = np.clip(img, 0, 1) ** sc.gamma
    if sc.noise > 0:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * sc.noise
    out: np.ndarray = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    if sc.jpeg:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, sc.jpeg])
        decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        if not ok or decoded is None:  # not expected for a uint8 image
            raise RuntimeError("OpenCV could not JPEG-encode and decode the scan")
        out = decoded
    return out
