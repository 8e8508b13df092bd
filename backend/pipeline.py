"""The cleanup pipeline: pixels in, clean line-art pixels out.

composite onto white → grayscale → normalize by max → scale to the working resolution →
pad and tile → network → undo the scaling → threshold → compose the output layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from backend import defaults, pixels, postprocess, tiling
from backend.model import LoadedModel
from sketch_client import ProtocolError

AUTO_SCALE_RANGE = (0.25, 4.0)  # up to 4: clean 1 px lines need it to stay thin
ESTIMATE_MAX_SIDE = 2048


class Cancelled(Exception):
    """Raised inside the pipeline when the client cancelled the job."""


def estimate_stroke_width(gray: np.ndarray) -> float | None:
    """Typical stroke width in px: 2 × ink area / ink outline length, on Otsu's ink mask.

    For long thin strokes area ≈ width × length and outline ≈ 2 × length. Returns None for
    a page with no clear ink. Big scans are measured downscaled and the result scaled back.
    """
    factor = max(1.0, max(gray.shape) / ESTIMATE_MAX_SIDE)
    if factor > 1.0:
        size = (round(gray.shape[1] / factor), round(gray.shape[0] / factor))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    if float(gray.max() - gray.min()) < 0.1:
        return None
    g8 = np.rint(np.clip(gray, 0, 1) * 255).astype(np.uint8)
    _, ink = cv2.threshold(g8, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    area = float(np.count_nonzero(ink))
    if area < 20 or area > 0.6 * ink.size:
        return None
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    outline = sum(cv2.arcLength(c, True) for c in contours)
    if outline <= 0:
        return None
    return 2.0 * area / outline * factor


def working_scale(gray: np.ndarray, requested, model_width: float | None) -> float:
    if requested != "auto":
        return float(requested)
    measured = estimate_stroke_width(gray)
    if not measured or not model_width:
        return 1.0
    low, high = AUTO_SCALE_RANGE
    return float(np.clip(model_width / measured, low, high))


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if (height, width) == image.shape:
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


@dataclass
class Settings:
    """How the backend runs the network; fixed per process."""

    tile: int = defaults.TILE
    overlap: int = defaults.OVERLAP
    batch: int = defaults.BATCH
    max_working_pixels: int = defaults.MAX_WORKING_PIXELS


class Cleaner:
    """Holds the model and runs the whole pipeline for one request at a time."""

    def __init__(self, model: LoadedModel, settings: Settings | None = None):
        self.model = model
        self.settings = settings or Settings()

    def network_output(
        self,
        gray: np.ndarray,
        scale_option="auto",
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[np.ndarray, dict]:
        """The network's soft output (1 = paper) at the input's size, and what was done."""
        peak = float(gray.max())
        normalized = gray / peak if 0 < peak != 1 else gray  # no canvas-sized copy for nothing
        scale = working_scale(normalized, scale_option, self.model.stroke_width_px)
        height, width = normalized.shape
        limit = self.settings.max_working_pixels
        scale = min(scale, (limit / (height * width)) ** 0.5)
        work_h = max(8, round(height * scale))
        work_w = max(8, round(width * scale))
        working = resize(normalized, work_h, work_w)

        def on_tiles(done: int, total: int) -> None:
            if should_stop and should_stop():
                raise Cancelled()
            if progress:
                progress(done, total)

        s = self.settings
        output, tiles = tiling.run_tiled(
            working,
            self.model.predict,
            s.tile,
            s.overlap,
            s.batch,
            self.model.multiple,
            on_tiles,
            bucket=self.model.bucket,
        )
        return resize(output, height, width), {"scale": round(scale, 4), "tiles": tiles}

    def clean(
        self,
        payload: bytes,
        width: int,
        height: int,
        fmt: str,
        options: dict,
        progress: Callable[[str, int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[bytes, dict]:
        """Clean one validated request; return (result pixels, result header fields)."""
        started = time.perf_counter()
        gray, alpha = pixels.decode(payload, width, height, fmt)
        if not np.any(alpha > 0):
            raise ProtocolError("empty_image", "the layer has no visible pixel: nothing to clean")

        def on_tiles(done: int, total: int) -> None:
            if progress:
                progress("inference", done, total)

        output, done = self.network_output(gray, options["scale"], on_tiles, should_stop)
        rgb, out_alpha = postprocess.compose(output, options)
        result = pixels.encode(rgb, out_alpha, options["output_format"])
        done.update(
            width=width,
            height=height,
            format=options["output_format"],
            seconds=round(time.perf_counter() - started, 4),
        )
        return result, done
