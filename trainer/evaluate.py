"""Evaluate a model on paired data: metrics JSON, comparison sheets, training curves.

Every pair is evaluated at the training patch size with the deterministic preprocessing of the
validation set (centre crop of large scans, resize with INTER_AREA, target binarised at its
mean, input normalised by its maximum), so the numbers compare with the ``val_*`` columns of a
run's log. ``EVAL_DIR`` gets ``metrics.json``, ``sheets/sheet-NNN.png`` (input | prediction |
target) and, with ``run_dir``, ``curves.png`` from the run's ``log.csv``.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from trainer.data import SketchDataset, find_pairs
from trainer.losses import intersection_loss
from trainer.metrics import all_metrics
from trainer.plots import plot_training_curves, write_sheets

__all__ = ["evaluate"]


def _per_image_iou(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    t, q = y < 0.5, p < 0.5
    axes = tuple(range(1, y.ndim))
    inter = np.sum(t & q, axis=axes)
    union = np.sum(t | q, axis=axes)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def evaluate(
    model_path: str | os.PathLike,
    data_dirs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    patch: int = 424,
    batch_size: int = 4,
    synthetic: int = 0,
    seed: int = 0,
    run_dir: str | os.PathLike | None = None,
    sheets: int = 2,
    per_sheet: int = 4,
    make_pair=None,
    target_threshold: str | float = "mean",
) -> dict:
    """Evaluate ``model_path`` and write the report into ``out_dir``; returns the metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = keras.saving.load_model(model_path, compile=False)
    pairs = [p for d in data_dirs for p in find_pairs(d)]
    ds = SketchDataset(
        pairs,
        patch=patch,
        batch_size=batch_size,
        train=False,
        seed=seed,
        synthetic=synthetic,
        make_pair=make_pair,
        target_threshold=target_threshold
        if target_threshold in ("mean", "otsu")
        else float(target_threshold),
    )
    names = [p.stem for p in pairs] + [f"synthetic-{i:05d}" for i in range(synthetic)]
    metrics = all_metrics()
    losses, ious = [], []
    keep = max(0, sheets * per_sheet)
    shown: tuple[list, list, list] = ([], [], [])
    for i in range(len(ds)):
        x, y = ds[i]
        pred = np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(x)), np.float32)
        for m in metrics:
            m.update_state(y, pred)
        losses.append(keras.ops.convert_to_numpy(intersection_loss(y, pred)))
        ious.append(_per_image_iou(y, pred))
        for arr, lst in zip((x, pred, y), shown, strict=True):
            lst.extend(arr[: max(0, keep - len(lst))])
    losses_a, ious_a = np.concatenate(losses), np.concatenate(ious)
    per_image = [
        (n, round(float(lo), 5), round(float(io), 5))
        for n, lo, io in zip(names, losses_a, ious_a, strict=True)
    ]
    per_image.sort(key=lambda r: -r[1])  # worst first
    result = {
        "model": str(model_path),
        "data": [str(d) for d in data_dirs] + ([f"{synthetic} synthetic"] if synthetic else []),
        "samples": int(losses_a.size),
        "patch": patch,
        "loss": float(np.mean(losses_a)),
        "metrics": {m.name: float(keras.ops.convert_to_numpy(m.result())) for m in metrics},
        "per_image": [{"name": n, "loss": lo, "iou": io} for n, lo, io in per_image],
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "backend": keras.backend.backend(),
    }
    result["metrics"]["loss"] = result["loss"]
    if keep and shown[0]:
        result["sheets"] = [str(p) for p in write_sheets(out / "sheets", *shown, per_sheet)]
    if run_dir is not None:
        log_csv = Path(run_dir) / "log.csv"
        if log_csv.exists():
            result["curves"] = str(plot_training_curves(log_csv, out / "curves.png"))
        else:
            print(f"{log_csv} not found: no training curves", flush=True)
    with open(out / "metrics.json", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    return result
