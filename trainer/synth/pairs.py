"""(rough, clean) training pairs: one function per pair, and a writer for many."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .compose import compose
from .paper import sample_scan, scan
from .render import render_clean
from .rough import render_rough, sample_style

NEAR_CLEAN = 0.12  # fraction of pairs whose input is already clean line art (lightly degraded)
WIDTH_RANGE = (1.8, 3.6)  # target line width, px


def pair_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of pair ``index`` of a run seeded ``seed``: depends on both alone."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def make_pair(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic ``(rough, clean)`` pair: uint8 ``size`` x ``size``, paper 255, ink dark."""
    width = rng.uniform(*WIDTH_RANGE)
    drawing = compose(rng, size, width)
    clean = render_clean(drawing.lines, size, width)
    if rng.random() < NEAR_CLEAN:
        ink = (255 - clean).astype(np.float32) * (1 / 255)
        if rng.random() < 0.5:  # a slightly thinner or bolder pen than the target
            k = np.ones((2, 2), np.uint8)
            ink = cv2.dilate(ink, k) if rng.random() < 0.5 else cv2.GaussianBlur(ink, (0, 0), 0.6)
        rough = scan(rng, ink, sample_scan(rng, mild=True))
    else:
        style = sample_style(rng)
        ink, blue = render_rough(rng, drawing.lines, drawing.guides, size, style)
        rough = scan(rng, ink, sample_scan(rng), blue)
    return rough, clean


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
