"""The files of a run directory, and where a call to ``train`` starts in it.

A run directory holds::

    run.json                     configuration, data description, stroke width, environment
    log.csv                      one row per epoch (losses, metrics, learning rate, seconds)
    checkpoints/epoch-NNNN.keras model + optimizer state after epoch NNNN (1-based)
    checkpoints/epoch-NNNN.json  callback state and counters for resuming from it
    best.weights.npz, best.json  weights and value of the best epoch so far (val_loss)
    final.keras                  the model at the end (best weights restored), with optimizer
    summary.json                 epochs, steps, seconds, devices and best metrics (for export)
    tensorboard/                 TensorBoard logs (when TensorFlow is importable)

Every file is replaced atomically, so a kill at any moment leaves the previous version whole.
``trainer.export`` reads ``run.json`` and ``summary.json`` into the model card.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from trainer import distribute
from trainer.config import TrainConfig
from trainer.data import SketchDataset, dataset_stroke_widths
from trainer.model import UNetConfig

__all__ = [
    "RunStart",
    "open_run",
    "check_resumable",
    "find_checkpoints",
    "latest_checkpoint",
    "write_json",
    "save_model",
    "describe_run",
    "best_metrics",
    "write_summary",
]

_CKPT_RE = re.compile(r"^epoch-(\d{4,})\.keras$")
# Options that shape the optimizer state: a checkpoint saved under others cannot be resumed.
_RESUME_KEYS = ("mixed_precision", "accum_steps", "freeze_encoder", "lr_schedule")


@dataclasses.dataclass(frozen=True)
class RunStart:
    """Where a call to ``train`` starts: a fresh run directory or its newest checkpoint."""

    run_dir: Path
    run_json: dict  # the run.json already there ({} in a new directory)
    checkpoint: Path | None  # the checkpoint to resume from (None: start fresh)
    epoch: int  # epochs done at that checkpoint (0: fresh)
    state: dict  # the checkpoint's state file ({} when fresh)

    def is_complete(self, epochs: int) -> bool:
        """The checkpoint ended a run that stopped early or already has ``epochs`` epochs."""
        return bool(self.state.get("finished")) and (
            bool(self.state.get("stopped_early")) or epochs <= self.state["epoch"]
        )


def open_run(cfg: TrainConfig) -> RunStart:
    """Create ``cfg.out`` if needed and pick the checkpoint to resume (``cfg.resume``)."""
    run_dir = Path(cfg.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    run_json_path = run_dir / "run.json"
    run_json = json.loads(run_json_path.read_text()) if run_json_path.exists() else {}
    ckpts = find_checkpoints(run_dir)
    if cfg.resume == "always" and not ckpts:
        raise FileNotFoundError(f"--resume: no checkpoint in {run_dir}/checkpoints")
    if cfg.resume == "never" and ckpts:
        raise FileExistsError(
            f"{run_dir} already has checkpoints; resume (default) or choose another --out"
        )
    if not ckpts or cfg.resume == "never":
        return RunStart(run_dir, run_json, None, 0, {})
    epoch, path = ckpts[-1]
    state = json.loads(path.with_suffix(".json").read_text())
    return RunStart(run_dir, run_json, path, epoch, state)


def check_resumable(start: RunStart, model_cfg: UNetConfig, cfg: TrainConfig) -> None:
    """When resuming, the model and the optimizer-shaping options must not change."""
    if start.checkpoint is None:
        return  # a fresh start overwrites run.json, the log and the best weights
    old = start.run_json.get("model")
    if old and old != model_cfg.to_dict():
        raise ValueError(
            f"the run directory was trained with model {old}, not {model_cfg.to_dict()}; "
            "use another --out or the same --model-preset / base model"
        )
    before = start.run_json.get("config", {})
    changed = [k for k in _RESUME_KEYS if k in before and before[k] != getattr(cfg, k)]
    if changed:
        was = ", ".join(f"{k}={before[k]!r} (now {getattr(cfg, k)!r})" for k in changed)
        raise ValueError(
            f"cannot resume {cfg.out}: the optimizer state was saved with {was}; "
            "rerun with the same options"
        )


def find_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of the complete checkpoints of a run (with state file), oldest first."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    found = []
    if ckpt_dir.is_dir():
        for p in ckpt_dir.iterdir():
            m = _CKPT_RE.match(p.name)
            if m and p.with_suffix(".json").exists():
                found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    found = find_checkpoints(run_dir)
    return found[-1][1] if found else None


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (a kill never leaves a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, default=_json_default)
        f.write("\n")
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_model(model: keras.Model, path: Path, is_chief: bool) -> None:
    """``model.save`` to ``path`` atomically; on non-chief workers to a scratch folder.

    Under MultiWorkerMirroredStrategy every worker must take part in saving (it runs
    collective ops), but only the chief's file may land in the run directory.
    """
    if is_chief:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".partial-{path.name}")
        model.save(tmp)
        os.replace(tmp, path)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="sketch-worker-"))
        try:
            model.save(scratch / path.name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def describe_run(
    cfg: TrainConfig,
    model_cfg: UNetConfig,
    params: int,
    train_ds: SketchDataset,
    val_ds: SketchDataset | None,
    plan: distribute.DistributionPlan,
) -> dict:
    """The content of ``run.json``; measures the training data's stroke widths for the card."""
    widths = dataset_stroke_widths(train_ds, seed=cfg.seed)
    stroke, input_stroke, auto = widths["targets"], widths["inputs"], widths["auto"]
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": dataclasses.asdict(cfg),
        "model": model_cfg.to_dict(),
        "params": params,
        "data": _data_description(cfg, train_ds, val_ds),
        "stroke_width_px": None if math.isnan(stroke) else round(stroke, 3),
        "input_stroke_width_px": None if math.isnan(input_stroke) else round(input_stroke, 3),
        "auto_stroke_width_px": None if math.isnan(auto) else round(auto, 3),
        "patch": cfg.patch,
        "backend": keras.backend.backend(),
        "devices": plan.describe(),
        "environment": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            **distribute.task_environment(),
        },
    }


def _data_description(cfg: TrainConfig, train_ds: SketchDataset, val_ds) -> str:
    parts = [f"{Path(d).name or d}" for d in cfg.data]
    text = ", ".join(parts) if parts else ""
    if cfg.synthetic:
        text = (text + " + " if text else "") + f"{cfg.synthetic} synthetic pairs/epoch"
    text += f" (train {train_ds.describe()}"
    text += f"; val {val_ds.describe()})" if val_ds is not None else "; no validation)"
    return text


def best_metrics(rows: list[dict]) -> dict[str, float | str]:
    """Validation metrics of the best epoch (lowest val_loss; training metrics without val)."""
    rows = [r for r in rows if r]
    if not rows:
        return {}
    key = "val_loss" if any(r.get("val_loss") not in (None, "") for r in rows) else "loss"
    best = min(rows, key=lambda r: float(r.get(key) or math.inf))
    prefix = "val_" if key == "val_loss" else ""
    out: dict[str, float | str] = {}
    for k, v in best.items():
        if k.startswith(prefix) and k != "epoch" and not k.endswith("seconds") and v != "":
            if prefix or not k.startswith("val_"):
                out[k[len(prefix) :]] = round(float(v), 5)
    out.pop("learning_rate", None)
    out["epoch"] = int(best["epoch"]) + 1
    out["split"] = "validation" if prefix else "training"
    return out


def write_summary(run_dir: Path, summary: dict) -> None:
    """Write ``summary.json`` and mark the newest checkpoint as the end of the run."""
    write_json(run_dir / "summary.json", summary)
    last = latest_checkpoint(run_dir)
    if last is not None:
        st = json.loads(last.with_suffix(".json").read_text())
        st.update(finished=True, stopped_early=summary["stopped_early"])
        write_json(last.with_suffix(".json"), st)
