"""(rough, clean) training pairs: one function per pair, and a writer for many."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from .compose import STEP, compose
from .curves import Stroke, resample_many
from .paper import sample_scan, scan
from .render import render_clean
from .rough import hatching, render_rough, sample_style

NEAR_CLEAN = 0.12  # fraction of pairs whose input is already clean line art (lightly degraded)
WIDTH_RANGE = (1.8, 3.6)  # the drawing's line width, px: sets how fine its detail may be
# Every target line is drawn this wide, whatever the sketch's stroke: the network learns one
# thin centre line, and the backend re-strokes it at the width the artist asks for.
TARGET_WIDTH = 2.0
CLEAN_INPUT_WIDTH = (1.2, 5.0)  # pen width of nearly clean inputs (bold ink thins to centre)
PERSPECTIVE = 0.1  # fraction of pairs seen at a slant (phone photos), input and target alike
# Held-out evaluation looks at each kind of rough on its own (``make_pair(..., category=)``);
# training draws the mix (None).
CATEGORIES = ("clean", "faint", "hatching", "construction", "underdrawing", "photo")


def _style_for(rng: np.random.Generator, category: str | None):
    style = sample_style(rng)
    if category == "hatching":
        style = replace(style, hatch=rng.uniform(1.0, 1.8), tone=rng.uniform(0.0, 0.5))
    elif category == "construction":
        style = replace(
            style,
            guides=rng.uniform(0.7, 1.0),
            ghosts=rng.uniform(0.3, 0.6),
            passes=rng.uniform(2.5, 5.0),
            long_stray=rng.uniform(0.5, 1.0),
            hatch=0.0,
        )
    elif category == "underdrawing":
        style = replace(style, blue=True, guides=rng.uniform(0.6, 1.0), hatch=0.0)
    elif category in ("faint", "photo"):
        style = replace(style, hatch=min(style.hatch, 0.5))
    return style


def pair_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of pair ``index`` of a run seeded ``seed``: depends on both alone."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def make_pair(
    rng: np.random.Generator, size: int, category: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic ``(rough, clean)`` pair: uint8 ``size`` x ``size``, paper 255, ink dark.

    ``category`` (one of ``CATEGORIES``) forces one kind of rough; None draws the mix."""
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"category must be one of {CATEGORIES} or None, not {category!r}")
    width = rng.uniform(*WIDTH_RANGE)
    drawing = compose(rng, size, width)
    near_clean = rng.random() < NEAR_CLEAN
    if category is not None:
        near_clean = category == "clean"
    if near_clean:
        clean = render_clean(drawing.lines, size, TARGET_WIDTH, uniform=True)
        pen = render_clean(drawing.lines, size, rng.uniform(*CLEAN_INPUT_WIDTH), uniform=True)
        ink = (255 - pen).astype(np.float32) * (1 / 255)
        rough = scan(rng, ink, sample_scan(rng, mild=True))
    else:
        style = _style_for(rng, category)
        keep, tone = hatching(rng, drawing.lines, size, style.hatch, style.hatch_angle)
        if keep:  # distinct hatch strokes are drawing: the clean art keeps each one
            weight = rng.uniform(0.55, 1.0)
            drawing.lines += [
                Stroke(p, 1.0, weight, 0.35, passes=0.15) for p in resample_many(keep, STEP)
            ]
        clean = render_clean(drawing.lines, size, TARGET_WIDTH, uniform=True)
        ink, blue = render_rough(rng, drawing.lines, drawing.guides, size, style, tone)
        force = {"faint": category == "faint", "photo": category == "photo"} if category else {}
        rough = scan(rng, ink, sample_scan(rng, **force), blue)
    slanted = rng.random() < PERSPECTIVE
    if slanted if category is None else category == "photo":
        rough, clean = _slant(rng, rough, clean)
    return rough, clean


def _slant(rng: np.random.Generator, rough: np.ndarray, clean: np.ndarray):
    """The same mild perspective warp of input and target (a page photographed at an angle)."""
    n = rough.shape[0]
    src = np.array([[0, 0], [n, 0], [n, n], [0, n]], np.float32)
    dst = src + rng.uniform(-0.08, 0.08, (4, 2)).astype(np.float32) * n
    h = cv2.getPerspectiveTransform(src, dst)
    paper = int(np.percentile(rough, 90))
    warp = lambda im, fill: cv2.warpPerspective(  # noqa: E731
        im, h, (n, n), flags=cv2.INTER_LINEAR, borderValue=fill
    )
    return warp(rough, paper), warp(clean, 255)


def _write_one(args) -> int:
    out_dir, seed, i, size = args
    rough, clean = make_pair(pair_rng(seed, i), size)
    name = f"{i:05d}.png"
    cv2.imwrite(str(Path(out_dir) / "input" / name), rough)
    cv2.imwrite(str(Path(out_dir) / "target" / name), clean)
    return i


def _init_worker():
    cv2.setNumThreads(1)


def write_pairs(
    out_dir, n: int, size: int = 424, seed: int = 0, workers: int = 1, progress: bool = True
) -> Path:
    """Write ``out_dir/input/%05d.png`` (rough) and ``out_dir/target/%05d.png`` (clean).

    Pair i depends on (seed, i) only, so runs are reproducible whatever ``workers`` is."""
    from tqdm import tqdm

    out = Path(out_dir)
    (out / "input").mkdir(parents=True, exist_ok=True)
    (out / "target").mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), seed, i, size) for i in range(n)]
    bar = tqdm(total=n, desc="synth pairs", unit="pair", disable=not progress)
    if workers <= 1:
        for job in jobs:
            _write_one(job)
            bar.update()
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # fork is unsafe once TensorFlow has started threads
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            for _ in pool.imap_unordered(_write_one, jobs, chunksize=8):
                bar.update()
    bar.close()
    return out
