"""The cleanup pipeline: pixels in, clean line-art pixels out.

composite onto white → grayscale → (flatten the lighting, if asked) → normalize by max →
scale to the working resolution → pad and tile → network → undo the scaling → solid masses
again at twice the scale (backend/dense.py) → threshold → re-stroke at the asked line width →
compose the output layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from backend import defaults, dense, flatten, line_weight, pixels, postprocess, tiling
from backend.autoscale import StrokeWidths, scale_for, working_scale
from backend.model import LoadedModel
from backend.window import Box, resize_exact, resize_source
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

    auto: one pencil pass of the sketch's measured stroke (line_weight.auto_width), to which
    the lines are only thinned (see `thins`).
    """
    if requested == "model":
        return None
    if requested != "auto":
        return float(requested)
    return line_weight.auto_width(measured)


def thins(requested) -> bool:
    """Whether the lines are only thinned to the width, never thickened: for `auto`."""
    return requested == "auto"


@dataclass
class Settings:
    """How the backend runs the network; fixed per process."""

    tile: int = defaults.TILE
    overlap: int = defaults.OVERLAP
    batch: int = defaults.BATCH
    max_working_pixels: int = defaults.MAX_WORKING_PIXELS
    dense: bool = True  # solid masses again at twice the scale (off: to measure what it does)


class Cleaner:
    """Holds the model and runs the whole pipeline for one request at a time."""

    def __init__(self, model: LoadedModel, settings: Settings | None = None):
        self.model = model
        self.settings = settings or Settings()
        self.stroke_widths = StrokeWidths()

    def _working(self, gray: np.ndarray, scale_option) -> tuple[np.ndarray, float]:
        """The normalized sketch at the working resolution, and the scale it was resized by."""
        peak = float(gray.max())
        normalized = gray / peak if 0 < peak != 1 else gray  # no canvas-sized copy for nothing
        scale = self.capped(
            working_scale(normalized, scale_option, self.model.stroke_width_px), gray.shape
        )
        height, width = normalized.shape
        work_h = max(8, round(height * scale))
        work_w = max(8, round(width * scale))
        return resize(normalized, work_h, work_w), scale

    def capped(self, scale: float, shape: tuple[int, int]) -> float:
        """`scale`, lowered where the working image would exceed max_working_pixels."""
        return min(scale, (self.settings.max_working_pixels / (shape[0] * shape[1])) ** 0.5)

    def network_window(
        self,
        gray: np.ndarray,
        scale_option="auto",
        window: Box | None = None,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[np.ndarray, Box, dict]:
        """The network's soft output (1 = paper) at the input's size over `window` (default:
        all) and around it as far as it equals the full run's: (output, its box, what was
        done).

        The whole sketch is normalized and resized (cheap, and exactly the full run's
        working image); only the network runs on part of it (tiling.run_window), and the
        way back to the input's size is the full run's resize of the working output, exact
        wherever it reads computed pixels only.
        """
        working, scale = self._working(gray, scale_option)
        canvas = Box.of(gray.shape)
        window = window or canvas
        resized = working.shape != gray.shape
        wanted = resize_source(window, gray.shape, working.shape) if resized else window

        def on_tiles(done: int, total: int) -> None:
            if should_stop and should_stop():
                raise Cancelled()
            if progress:
                progress(done, total)

        s = self.settings
        output, known, tiles = tiling.run_window(
            working,
            self.model.predict,
            s.tile,
            s.overlap,
            s.batch,
            self.model.multiple,
            on_tiles,
            bucket=self.model.bucket,
            window=wanted,
        )
        done = {"scale": round(scale, 4), "tiles": tiles}
        if not resized:
            return output, known, done
        work = Box.of(working.shape)
        del working
        if known != work:  # paper where nothing was computed: no exact pixel reads it
            whole = np.full(work.shape, tiling.PAPER, np.float32)
            whole[known.within(work)] = output
            output = whole
        output = resize(output, *gray.shape)
        exact = resize_exact(known, work.shape, canvas.shape)
        return output[exact.within(canvas)], exact, done

    def network_output(
        self,
        gray: np.ndarray,
        scale_option="auto",
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[np.ndarray, dict]:
        """The network's soft output (1 = paper) at the input's size, and what was done."""
        output, _, done = self.network_window(gray, scale_option, None, progress, should_stop)
        return output, done

    def clean(
        self,
        payload: bytes,
        width: int,
        height: int,
        fmt: str,
        options: CleanOptions,
        progress: Callable[[str, int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        region: tuple[int, int, int, int] | None = None,
    ) -> tuple[bytes, dict]:
        """Clean one validated request; return (result pixels, result header fields).

        region [x, y, w, h]: only those pixels, equal to the same crop of the full result
        wherever the header's `exact` says so (see docs/protocol.md, "Regions").
        """
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
        if "auto" in (scale, options.line_width):  # one measure serves both, on the whole
            measured = self.stroke_widths(gray)
            if scale == "auto":
                scale = scale_for(measured, self.model.stroke_width_px)
        width_px = line_width(measured, options.line_width)
        canvas = Box.of(gray.shape)
        want = canvas if region is None else Box.from_region(region)
        strokes = want if width_px is None else line_weight.needed(want, width_px, canvas)
        scale = self.capped(float(scale), gray.shape)
        first = strokes.grown(dense.context(scale), canvas)
        output, known, done = self.network_window(gray, scale, first, on_tiles, should_stop)
        # statistics of the first pass (otsu, mean, blank page) over all that is known
        # exactly: the whole canvas in a full run
        level = postprocess.threshold_level(output, options)
        done["dense"] = self._redo_dense(gray, output, known, strokes, scale, progress, should_stop)
        del gray
        strength = postprocess.line_strength(output[strokes.within(known)], options, level)
        del output
        if width_px is not None:
            soft = postprocess.anti_aliased(options)
            strength = line_weight.restroke_blocks(
                strength,
                width_px,
                soft,
                box=strokes,
                want=want,
                canvas=canvas,
                thin=thins(options.line_width),
            )
        rgb, out_alpha = postprocess.paint(strength, options)
        out_format = options.output_format or fmt
        result = pixels.encode(rgb, out_alpha, out_format)
        if options.vector is not None:
            if progress:
                progress("vectorize", 0, 1)
            from backend.vector import svg_of_result  # numba and skan load on first use

            out_w, out_h = want.shape[1], want.shape[0]
            done["svg"] = svg_of_result(result, out_w, out_h, out_format, options, options.vector)
        done.update(
            line_width=None if width_px is None else round(width_px, 2),
            level=level,
            width=want.shape[1],
            height=want.shape[0],
            format=out_format,
        )
        if region is not None:
            whole = known == canvas  # otsu, mean, blank page read what the full run reads
            exact = whole or postprocess.level_is_local(options, level)
            done.update(region=want.to_region(), exact=exact)
        done["seconds"] = round(time.perf_counter() - started, 4)
        return result, done

    def _redo_dense(
        self,
        gray: np.ndarray,
        output: np.ndarray,
        known: Box,
        strokes: Box,
        scale: float,
        progress: Callable[[str, int, int], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> float:
        """Blend the network's output at a finer scale into `output` (over `known`, in place)
        where the first pass drew solid masses within `strokes`, block by block
        (backend/dense.py); the share of `strokes` redone."""
        finer = dense.finer_scale(scale) if self.settings.dense else None
        if finer is None:
            return 0.0
        canvas = Box.of(gray.shape)
        reach, pad = dense.context(scale), dense.block_context(finer, self.settings.overlap)
        todo = []
        for cell in strokes.cells(dense.BLOCK, canvas):
            core = cell.intersect(strokes)
            if core is None:
                continue
            around = core.grown(reach, canvas)
            mix = dense.weight(output[around.within(known)], scale)[core.within(around)]
            if mix.any():
                todo.append((cell, core, mix))
        peak = float(gray.max()) or 1.0
        redone = 0
        for number, (cell, core, mix) in enumerate(todo):
            if should_stop and should_stop():
                raise Cancelled()
            if progress:
                progress("dense", number, len(todo))
            source = cell.grown(pad, canvas)
            patch = gray[source.within(canvas)] / peak
            h, w = patch.shape
            working = resize(patch, max(8, round(h * finer)), max(8, round(w * finer)))
            second, _ = tiling.run_tiled(
                working,
                self.model.predict,
                self.settings.tile,
                self.settings.overlap,
                self.settings.batch,
                self.model.multiple,
                bucket=self.model.bucket,
            )
            second = resize(second, h, w)[core.within(source)]
            at = core.within(known)
            output[at] += mix * (second - output[at])
            redone += int(np.count_nonzero(mix))
        if progress and todo:
            progress("dense", len(todo), len(todo))
        return round(redone / (strokes.shape[0] * strokes.shape[1]), 4)
