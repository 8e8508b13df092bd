"""The cleanup pipeline: pixels in, clean line-art pixels out.

composite onto white → grayscale → (flatten the lighting, if asked) → normalize by max →
scale to the working resolution → pad and tile → network → undo the scaling → threshold →
re-stroke at the asked line width → compose the output layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from backend import defaults, flatten, line_weight, pixels, postprocess, tiling
from backend.autoscale import estimate_stroke_width, scale_for, working_scale
from backend.model import LoadedModel
from sketch_kit.protocol import CleanOptions, ProtocolError


class Cancelled(Exception):
    """Raised inside the pipeline when the client cancelled the job."""


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if (height, width) == image.shape:
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def line_width(measured: float | None, requested) -> float | None:
    """Width in canvas px to re-stroke the lines at; None keeps the network's own.

    auto: one pencil pass of the sketch's measured stroke (line_weight.auto_width).
    """
    if requested == "model":
        return None
    if requested != "auto":
        return float(requested)
    return line_weight.auto_width(measured)


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
        options: CleanOptions,
        progress: Callable[[str, int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[bytes, dict]:
        """Clean one validated request; return (result pixels, result header fields)."""
        started = time.perf_counter()
        gray, alpha = pixels.decode(payload, width, height, fmt)
        if not np.any(alpha > 0):
            raise ProtocolError("empty_image", "the layer has no visible pixel: nothing to clean")
        del alpha  # big layers: each canvas-sized array is let go as soon as it is done with
        if options.flatten:  # before the stroke width is measured too: paper is even there
            gray = flatten.flatten(gray)

        def on_tiles(done: int, total: int) -> None:
            if progress:
                progress("inference", done, total)

        scale = options.scale
        measured = None
        if "auto" in (scale, options.line_width):  # one measure serves both
            peak = float(gray.max())
            measured = estimate_stroke_width(gray / peak if 0 < peak != 1 else gray)
            if scale == "auto":
                scale = scale_for(measured, self.model.stroke_width_px)
        width_px = line_width(measured, options.line_width)
        output, done = self.network_output(gray, scale, on_tiles, should_stop)
        del gray
        rgb, out_alpha = postprocess.compose(output, options, width_px)
        del output
        out_format = options.output_format or fmt
        result = pixels.encode(rgb, out_alpha, out_format)
        if options.vector is not None:
            if progress:
                progress("vectorize", 0, 1)
            from backend.vector import svg_of_result  # numba and skan load on first use

            done["svg"] = svg_of_result(result, width, height, out_format, options, options.vector)
        done.update(
            line_width=None if width_px is None else round(width_px, 2),
            width=width,
            height=height,
            format=out_format,
            seconds=round(time.perf_counter() - started, 4),
        )
        return result, done
