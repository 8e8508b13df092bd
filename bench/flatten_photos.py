"""What the `flatten` option does to phone photos, measured on synthetic ones with ground truth.

    python bench/flatten_photos.py                 # the shipped model, 8 photos of 512²
    python bench/flatten_photos.py --model M.keras --count 16 --size 768

For held-out "photo" roughs of trainer.synth (uneven light, a hand's shadow, JPEG), as made
and again under a desk lamp (light falling to LAMP_LOW across the page, a vignette: harsher
than the photos the model was trained on), it reports the paper's evenness (spread of the
paper level over an 8 x 8 grid, 95th - 5th percentile), the lines' contrast against their
own paper, and the F1 of the cleaned lines at 0.2 % and 0.4 % tolerance, without and with
flatten, through the backend's real pipeline.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from backend.flatten import flatten  # noqa: E402
from trainer.line_metrics import ink, tolerant_scores  # noqa: E402
from trainer.quality_report import HELD_OUT_SEED, model_method  # noqa: E402
from trainer.synth.pairs import CATEGORIES, make_pair, pair_rng  # noqa: E402

SEED = HELD_OUT_SEED + CATEGORIES.index("photo")  # the quality report's photo roughs
LAMP_LOW = 0.3  # the light's least, as a share of its most


def under_a_lamp(rough: np.ndarray, angle: float, low: float = LAMP_LOW) -> np.ndarray:
    """The photo lit from one side: light falls linearly to `low`, plus a vignette."""
    n = rough.shape[0]
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n - 0.5
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    light = (1 - (1 - low) * ramp) * (1 - 0.3 * (xx**2 + yy**2))
    return np.clip(rough * light + 0.5, 0, 255).astype(np.uint8)


def paper_mask(clean: np.ndarray) -> np.ndarray:
    """Pixels at least 4 px from every line of the clean target."""
    return cv2.erode((clean > 200).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0


def blocks(image: np.ndarray, size: int = 8):
    step = image.shape[0] // size
    for y in range(0, step * size, step):
        for x in range(0, step * size, step):
            yield (slice(y, y + step), slice(x, x + step))


def paper_spread(image01: np.ndarray, clean: np.ndarray) -> float:
    """95th - 5th percentile of the paper's median level over an 8 x 8 grid."""
    paper = paper_mask(clean)
    levels = [np.median(image01[b][paper[b]]) for b in blocks(image01) if paper[b].mean() > 0.3]
    return float(np.percentile(levels, 95) - np.percentile(levels, 5))


def line_contrast(image01: np.ndarray, clean: np.ndarray) -> float:
    """Median over the grid of (paper - line) / paper: how dark lines are on their paper."""
    paper, lines = paper_mask(clean), clean < 128
    values = []
    for b in blocks(image01):
        if paper[b].mean() > 0.3 and lines[b].sum() >= 20:
            level = float(np.median(image01[b][paper[b]]))
            values.append((level - float(np.median(image01[b][lines[b]]))) / level)
    return float(np.median(values))


def measure(run, rough: np.ndarray, clean: np.ndarray) -> list[float]:
    gray = rough.astype(np.float32) / 255
    flat = flatten(gray)
    truth = ink(clean / 255.0)
    row = [paper_spread(gray, clean), paper_spread(flat, clean)]
    row += [line_contrast(gray, clean), line_contrast(flat, clean)]
    plain, flattened = ink(run(rough) / 255.0), ink(run(rough, flatten=True) / 255.0)
    for tolerance in (0.002, 0.004):
        row += [tolerant_scores(out, truth, tolerance)["f1"] for out in (plain, flattened)]
    return row


def main(argv=None) -> int:
    from backend.model import default_model_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="(the shipped model)")
    parser.add_argument("--count", type=int, default=8, help="photos per set (%(default)s)")
    parser.add_argument("--size", type=int, default=512, help="px a side (%(default)s)")
    parser.add_argument(
        "--lamp", type=float, default=LAMP_LOW, help="the lamp's least light (%(default)s)"
    )
    args = parser.parse_args(argv)
    _, run = model_method(args.model or default_model_path())
    head = "paper spread   line contrast  F1@0.2%        F1@0.4%"
    print(f"{'':18}{head}\n{'':18}{'off    on      ' * 4}")
    for label, lamp in (("synthetic photos", False), ("under a desk lamp", True)):
        rows = []
        for index in range(args.count):
            rng = pair_rng(SEED, index)
            rough, clean = make_pair(rng, args.size, "photo")
            if lamp:
                rough = under_a_lamp(rough, rng.uniform(0, 2 * np.pi), args.lamp)
            rows.append(measure(run, rough, clean))
        mean = np.mean(rows, axis=0)
        pairs = zip(mean[0::2], mean[1::2], strict=True)  # (off, on) per measure
        print(f"{label:18}" + "  ".join(f"{off:.3f} {on:.3f}" for off, on in pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
