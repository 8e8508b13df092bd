"""Training curves (from a run's log.csv) and before/after comparison sheets."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

__all__ = ["read_log", "plot_training_curves", "comparison_sheet", "write_sheets"]


def read_log(path: str | os.PathLike) -> dict[str, list[float]]:
    """Columns of a run's ``log.csv`` as float lists (missing values are NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no epochs logged yet")
    cols: dict[str, list[float]] = {k: [] for k in rows[0]}
    for r in rows:
        for k in cols:
            v = r.get(k, "")
            cols[k].append(float(v) if v not in ("", None) else math.nan)
    return cols


def plot_training_curves(log_csv: str | os.PathLike, out_png: str | os.PathLike) -> Path:
    """Loss, line metrics and learning rate per epoch (training and validation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = read_log(log_csv)
    epochs = [int(e) + 1 for e in cols["epoch"]]
    panels = [
        ("loss", ["loss"]),
        ("line class", ["iou", "f1", "precision", "recall"]),
        ("intersection scores", ["pmi", "gmi", "pixel_accuracy"]),
        ("learning rate", ["learning_rate"]),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, (title, keys) in zip(axes, panels, strict=True):
        for i, k in enumerate(keys):
            for prefix, style in (("", "-"), ("val_", "--")):
                if prefix + k in cols and not all(math.isnan(v) for v in cols[prefix + k]):
                    ax.plot(epochs, cols[prefix + k], style, color=f"C{i}", label=prefix + k)
        ax.set_title(title + ("" if title == "learning rate" else "  (dashed: validation)"))
        ax.set_xlabel("epoch")
        if title == "learning rate":
            ax.set_yscale("log")
        if ax.lines:
            ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _to_u8(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 3:
        img = img[..., 0]
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def comparison_sheet(
    inputs: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    gap: int = 4,
    labels: bool = True,
) -> np.ndarray:
    """A uint8 grid, one row per sample: input | prediction | target (gray gaps between)."""
    if not (len(inputs) == len(predictions) == len(targets)) or not inputs:
        raise ValueError("need the same positive number of inputs, predictions and targets")
    rows = []
    for x, p, t in zip(inputs, predictions, targets, strict=True):
        cells = [_to_u8(x), _to_u8(p), _to_u8(t)]
        h = max(c.shape[0] for c in cells)
        w = max(c.shape[1] for c in cells)
        padded = []
        for c in cells:
            canvas = np.full((h, w), 255, np.uint8)
            canvas[: c.shape[0], : c.shape[1]] = c
            padded.append(canvas)
        sep = np.full((h, gap), 128, np.uint8)
        rows.append(np.hstack([padded[0], sep, padded[1], sep, padded[2]]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=255) for r in rows]
    out = []
    if labels:
        header = np.full((18, width), 255, np.uint8)
        cell_w = (width - 2 * gap) // 3
        for i, text in enumerate(("input", "prediction", "target")):
            x0 = i * (cell_w + gap) + 4
            cv2.putText(header, text, (x0, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1, cv2.LINE_AA)
        out.append(header)
    for i, r in enumerate(rows):
        if i:
            out.append(np.full((gap, width), 128, np.uint8))
        out.append(r)
    return np.vstack(out)


def write_sheets(
    out_dir: str | os.PathLike,
    inputs: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    per_sheet: int = 4,
) -> list[Path]:
    """``sheet-000.png``, ``sheet-001.png``, ... with ``per_sheet`` samples each."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, i in enumerate(range(0, len(inputs), per_sheet)):
        sl = slice(i, i + per_sheet)
        sheet = comparison_sheet(inputs[sl], predictions[sl], targets[sl])
        path = out / f"sheet-{k:03d}.png"
        if not cv2.imwrite(str(path), sheet):
            raise OSError(f"cannot write {path}")
        paths.append(path)
    return paths
