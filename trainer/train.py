"""Training loop: data, model, optimizer, callbacks, checkpoints and resume.

A run directory holds::

    run.json                     configuration, data description, stroke width, environment
    log.csv                      one row per epoch (losses, metrics, learning rate, seconds)
    checkpoints/epoch-NNNN.keras model + optimizer state after epoch NNNN (1-based)
    checkpoints/epoch-NNNN.json  callback state and counters for resuming from it
    best.weights.npz             weights of the best epoch so far (val_loss)
    final.keras                  the model at the end (best weights restored), with optimizer
    summary.json                 epochs, steps, seconds, devices and best metrics (for export)
    tensorboard/                 TensorBoard logs (when TensorFlow is importable)

Starting ``train`` on a run directory that has checkpoints resumes from the newest one: model
weights, optimizer state (moments, iteration counter, learning rate, loss scale), the epoch
counter, early-stopping and LR-plateau state, the log and the cumulative training time.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import logging
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from trainer import distribute
from trainer.augment import AugmentConfig
from trainer.data import SketchDataset, dataset_stroke_widths, find_pairs, split_pairs
from trainer.losses import IntersectionLoss
from trainer.metrics import all_metrics
from trainer.model import PRESETS, build_unet, encoder_layer_names, get_config, infer_config

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "TrainResult", "train", "find_checkpoints", "latest_checkpoint"]

_CKPT_RE = re.compile(r"^epoch-(\d{4,})\.keras$")


@dataclasses.dataclass
class TrainConfig:
    """Everything ``python -m trainer train`` accepts (see ``--help`` for the meaning)."""

    out: str
    data: list[str] = dataclasses.field(default_factory=list)
    synthetic: int = 0
    val_synthetic: int | None = None  # synthetic validation pairs (default: from val_split)
    epochs: int = 100
    batch_size: int = 4  # per device
    accum_steps: int = 1
    patch: int = 424
    lr: float = 1e-3
    lr_schedule: str = "plateau"  # plateau | cosine | constant
    lr_patience: int = 4
    checkpoint_every: int = 1
    keep_checkpoints: int = 3
    patience: int = 10
    mixed_precision: str | None = None  # None | "float16" | "bfloat16"
    model_preset: str = "default"
    seed: int = 0
    val_split: float = 0.1
    steps_per_epoch: int | None = None
    augment: bool = True
    workers: int = 0  # 0: automatic
    use_multiprocessing: bool = False
    cache: bool = False
    target_threshold: str = "mean"  # mean | otsu | a level in (0, 1)
    loss_alpha: float = 0.5  # recall weight in the PMI/GMI loss; lower gives thinner lines
    resume: str = "auto"  # auto | always | never
    multi_worker: bool = False
    devices: list[str] | None = None
    tensorboard: bool = True
    jit_compile: str = "auto"  # auto | on | off
    init_from: str | None = None  # start from this model's weights (fine-tuning)
    freeze_encoder: bool = False
    verbose: int | None = None  # Keras fit verbosity (None: bar on a terminal, else 2)

    def model_config(self):
        if self.init_from:
            base = keras.saving.load_model(self.init_from, compile=False)
            return infer_config(base)
        return get_config(self.model_preset)

    def validate(self) -> None:
        if not self.data and self.synthetic <= 0:
            raise ValueError("give at least one --data folder or --synthetic N")
        if self.model_preset not in PRESETS:
            raise ValueError(f"unknown --model-preset {self.model_preset!r}")
        if self.patch % 8:
            raise ValueError(f"--patch must be a multiple of 8, got {self.patch}")
        if self.epochs < 1 or self.batch_size < 1 or self.accum_steps < 1:
            raise ValueError("--epochs, --batch-size and --accum-steps must be >= 1")
        if self.checkpoint_every < 1:
            raise ValueError("--checkpoint-every must be >= 1")
        if self.lr_schedule not in ("plateau", "cosine", "constant"):
            raise ValueError(f"unknown --lr-schedule {self.lr_schedule!r}")
        if self.mixed_precision not in (None, "float16", "bfloat16"):
            raise ValueError(f"unknown --mixed-precision {self.mixed_precision!r}")
        if self.resume not in ("auto", "always", "never"):
            raise ValueError(f"unknown resume mode {self.resume!r}")
        if not 0.0 <= self.val_split < 1.0:
            raise ValueError("--val-split must be in [0, 1)")
        if self.target_threshold not in ("mean", "otsu"):
            try:
                ok = 0.0 < float(self.target_threshold) < 1.0
            except ValueError:
                ok = False
            if not ok:
                raise ValueError("--target-threshold must be mean, otsu or a level in (0, 1)")
        if not 0.0 < self.loss_alpha < 1.0:
            raise ValueError("--loss-alpha must be in (0, 1)")
        if self.init_from and not Path(self.init_from).exists():
            raise FileNotFoundError(f"base model {self.init_from} not found")


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    initial_epoch: int  # epochs already done when this call started (0: fresh)
    initial_iterations: int  # optimizer steps already done when this call started
    epochs_done: int
    iterations: int
    seconds: float  # cumulative over all resumes
    history: list[dict[str, float]]
    final_model: Path | None
    stopped_early: bool
    model: keras.Model | None = None


# -- run directory helpers --------------------------------------------------------------------


def _write_json(path: Path, obj: Any) -> None:
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


def _save_everywhere(model: keras.Model, path: Path, is_chief: bool) -> None:
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


# -- callbacks ---------------------------------------------------------------------------------


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` and ``learning_rate`` to the epoch logs and prints the time."""

    def __init__(self, seconds_before: float = 0.0):
        super().__init__()
        self.total = seconds_before
        self._t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        dt = time.perf_counter() - self._t0
        self.total += dt
        if logs is not None:
            logs["epoch_seconds"] = dt
            logs["learning_rate"] = float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            )
        print(f"epoch {epoch + 1}: {dt:.1f} s (total {self.total:.0f} s)", flush=True)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping whose counters (and best weights) survive a resume."""

    def __init__(self, *args, restored: dict | None = None, best_weights_file=None, **kw):
        super().__init__(*args, **kw)
        self._restored = restored
        self._best_weights_file = best_weights_file

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._restored:
            self.wait = int(self._restored["wait"])
            self.best = self._restored["best"]
            self.best_epoch = int(self._restored["best_epoch"])
            f = self._best_weights_file
            if self.restore_best_weights and f is not None and Path(f).exists():
                with np.load(f) as z:
                    self.best_weights = [z[f"arr_{i}"] for i in range(len(z.files))]

    def state(self) -> dict:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch}


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    def __init__(self, *args, restored: dict | None = None, **kw):
        super().__init__(*args, **kw)
        self._restored = restored

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._restored:
            self.wait = int(self._restored["wait"])
            self.best = self._restored["best"]
            self.cooldown_counter = int(self._restored["cooldown_counter"])

    def state(self) -> dict:
        return {"wait": self.wait, "best": self.best, "cooldown_counter": self.cooldown_counter}


class CsvLog(keras.callbacks.Callback):
    """One CSV row per epoch; on resume, rows of epochs after the checkpoint are dropped."""

    def __init__(self, path: Path, initial_epoch: int, write: bool = True):
        super().__init__()
        self.path, self.write = path, write
        self.rows: list[dict[str, Any]] = []
        if initial_epoch > 0 and path.exists():
            with open(path, newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < initial_epoch]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch}
        for k, v in (logs or {}).items():
            try:
                row[k] = float(keras.ops.convert_to_numpy(v))
            except (TypeError, ValueError):
                continue
        self.rows.append(row)
        if not self.write:
            return
        keys = ["epoch"] + sorted({k for r in self.rows for k in r} - {"epoch"})
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)
        os.replace(tmp, self.path)


class BestWeights(keras.callbacks.Callback):
    """Keeps ``best.weights.npz`` and ``best.json``: the epoch with the lowest ``monitor``."""

    def __init__(self, path: Path, monitor: str, best: float | None, write: bool = True):
        super().__init__()
        self.path, self.monitor, self.best, self.write = path, monitor, best, write

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if self.best is None or value < self.best:
            self.best = value
            if self.write:
                tmp = self.path.with_name(".best.tmp.npz")
                np.savez(tmp, *self.model.get_weights())
                os.replace(tmp, self.path)
                info = {"monitor": self.monitor, "value": value, "epoch": epoch + 1}
                _write_json(self.path.with_name("best.json"), info)


class Checkpointer(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last): ``epoch-NNNN.keras`` + its state JSON.

    The state JSON is written first and the ``.keras`` file last, each atomically, so a
    checkpoint counts (see :func:`find_checkpoints`) only once both are complete.
    """

    def __init__(
        self,
        run_dir: Path,
        every: int,
        keep: int,
        last_epoch: int,
        state_fn: Callable[[int], dict],
        write: bool = True,
    ):
        super().__init__()
        self.dir = run_dir / "checkpoints"
        self.every, self.keep, self.last_epoch = every, keep, last_epoch
        self.state_fn = state_fn
        self.write = write  # False on non-chief workers (they write to a scratch dir)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        stopping = bool(getattr(self.model, "stop_training", False))
        if done % self.every and done != self.last_epoch and not stopping:
            return
        self.save(done)

    def save(self, done: int) -> Path:
        path = self.dir / f"epoch-{done:04d}.keras"
        state = self.state_fn(done)
        if self.write:
            _write_json(path.with_suffix(".json"), state)
        _save_everywhere(self.model, path, self.write)
        if not self.write:
            return path
        if self.keep > 0:
            for _, old in find_checkpoints(self.dir.parent)[: -self.keep]:
                old.unlink(missing_ok=True)
                old.with_suffix(".json").unlink(missing_ok=True)
        return path


# -- building blocks ---------------------------------------------------------------------------


def _mixed_policy(name: str | None) -> str:
    return {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}.get(name or "", "float32")


def _make_datasets(cfg: TrainConfig, plan, make_pair):
    pairs = []
    for d in cfg.data:
        pairs.extend(find_pairs(d))
    train_pairs, val_pairs = split_pairs(pairs, cfg.val_split, cfg.seed)
    workers = cfg.workers or min(4, os.cpu_count() or 1)
    if plan.kind == "multi_worker":
        batch, shard = cfg.batch_size, (plan.worker_index, plan.num_workers)
    else:
        batch, shard = plan.global_batch(cfg.batch_size), (0, 1)
    common = dict(
        patch=cfg.patch,
        batch_size=batch,
        make_pair=make_pair,
        cache=cfg.cache,
        target_threshold=_threshold(cfg.target_threshold),
        shard=shard,
        workers=workers,
        use_multiprocessing=cfg.use_multiprocessing,
    )
    train_ds = SketchDataset(
        train_pairs,
        train=True,
        seed=cfg.seed,
        synthetic=cfg.synthetic,
        augment=AugmentConfig() if cfg.augment else AugmentConfig.none(),
        **common,
    )
    n_val_syn = cfg.val_synthetic
    if n_val_syn is None:
        n_val_syn = (
            0
            if val_pairs or cfg.synthetic <= 0 or cfg.val_split <= 0
            else max(batch, int(round(cfg.synthetic * cfg.val_split)))
        )
    val_ds = None
    if val_pairs or n_val_syn > 0:
        # A different seed: synthetic validation pairs never equal training pairs.
        val_ds = SketchDataset(
            val_pairs, train=False, seed=cfg.seed + 1_000_003, synthetic=n_val_syn, **common
        )
    return train_ds, val_ds


def _threshold(value: str) -> str | float:
    return value if value in ("mean", "otsu") else float(value)


def _tf_distributed(strategy, ds: SketchDataset, steps: int, first_epoch: int):
    """Optional tf.data path (multi-worker): per-replica batches from this worker's shard."""
    import tensorflow as tf

    local = strategy.num_replicas_in_sync // max(1, ds.num_shards)
    spec = tf.TensorSpec((None, ds.patch, ds.patch, 1), tf.float32)

    def gen():
        epoch = first_epoch
        while True:
            ds.set_epoch(epoch)
            for i in range(steps * local):
                yield ds[i % len(ds)]
            epoch += 1

    def fn(ctx):
        d = tf.data.Dataset.from_generator(gen, output_signature=(spec, spec))
        opts = tf.data.Options()
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return d.with_options(opts).prefetch(tf.data.AUTOTUNE)

    return strategy.distribute_datasets_from_function(fn)


def _freeze_encoder(model: keras.Model) -> int:
    names = set(encoder_layer_names(model))
    for layer in model.layers:
        if layer.name in names:
            layer.trainable = False
    return len(names)


def _optimizer(cfg: TrainConfig, steps_per_epoch: int):
    lr: Any = cfg.lr
    if cfg.lr_schedule == "cosine":
        # The schedule is evaluated at the optimizer's micro-step counter (every batch, also
        # under gradient accumulation), hence batches rather than updates.
        lr = keras.optimizers.schedules.CosineDecay(
            cfg.lr, decay_steps=max(1, cfg.epochs * steps_per_epoch), alpha=0.01
        )
    return keras.optimizers.Adam(
        learning_rate=lr,
        beta_1=0.9,
        beta_2=0.999,
        gradient_accumulation_steps=cfg.accum_steps if cfg.accum_steps > 1 else None,
    )


def _jit(cfg: TrainConfig):
    return {"auto": "auto", "on": True, "off": False}[cfg.jit_compile]


_RESUME_KEYS = ("mixed_precision", "accum_steps", "freeze_encoder", "lr_schedule")


def _check_resumable(run_json: dict, model_cfg, cfg: TrainConfig, resuming: bool) -> None:
    """When resuming, the model and the optimizer-shaping options must not change."""
    if not resuming:
        return  # a fresh start overwrites run.json, the log and the best weights
    old = run_json.get("model")
    if old and old != model_cfg.to_dict():
        raise ValueError(
            f"the run directory was trained with model {old}, not {model_cfg.to_dict()}; "
            "use another --out or the same --model-preset / base model"
        )
    before = run_json.get("config", {})
    changed = [k for k in _RESUME_KEYS if k in before and before[k] != getattr(cfg, k)]
    if changed:
        was = ", ".join(f"{k}={before[k]!r} (now {getattr(cfg, k)!r})" for k in changed)
        raise ValueError(
            f"cannot resume {cfg.out}: the optimizer state was saved with {was}; "
            "rerun with the same options"
        )


def _iterations(model) -> int:
    opt = model.optimizer
    return int(keras.ops.convert_to_numpy(opt.iterations))


# -- the training entry point -----------------------------------------------------------------


def train(
    cfg: TrainConfig,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    make_pair=None,
) -> TrainResult:
    """Train (or resume) a run. ``callbacks`` are appended after the built-in ones."""
    cfg.validate()
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
    resume_from = ckpts[-1] if ckpts and cfg.resume != "never" else None
    state = json.loads(resume_from[1].with_suffix(".json").read_text()) if resume_from else {}
    if state.get("finished") and (state.get("stopped_early") or cfg.epochs <= state["epoch"]):
        print(f"{run_dir}: already complete after {state['epoch']} epochs", flush=True)
        return TrainResult(
            run_dir=run_dir,
            initial_epoch=state["epoch"],
            initial_iterations=state["iterations"],
            epochs_done=state["epoch"],
            iterations=state["iterations"],
            seconds=state["seconds"],
            history=[],
            final_model=run_dir / "final.keras",
            stopped_early=bool(state.get("stopped_early")),
        )

    keras.utils.set_random_seed(cfg.seed)
    backend = keras.backend.backend()
    plan = distribute.plan_distribution(
        backend,
        distribute.detect_gpus(backend),
        multi_worker=cfg.multi_worker,
        tf_config=os.environ.get("TF_CONFIG"),
        devices=cfg.devices,
    )
    previous_policy = keras.config.dtype_policy()
    keras.mixed_precision.set_global_policy(_mixed_policy(cfg.mixed_precision))
    try:
        with distribute.activate(plan) as strategy:
            if plan.kind == "multi_worker" and strategy is not None and not plan.local_devices:
                # CPU workers: the replica count is known only now (same on every worker).
                local = max(1, strategy.num_replicas_in_sync // plan.num_workers)
                plan = dataclasses.replace(
                    plan, local_devices=tuple(f"/cpu:{i}" for i in range(local))
                )
            print(f"devices: {plan.describe()}", flush=True)
            return _train_in_scope(
                cfg, run_dir, run_json, resume_from, state, plan, strategy, callbacks, make_pair
            )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train_in_scope(
    cfg, run_dir, run_json, resume_from, state, plan, strategy, extra_callbacks, make_pair
) -> TrainResult:
    train_ds, val_ds = _make_datasets(cfg, plan, make_pair)
    steps = (
        len(train_ds) if cfg.steps_per_epoch is None else min(cfg.steps_per_epoch, len(train_ds))
    )
    if plan.kind == "multi_worker":
        # Every worker must run the same number of steps: size them on the smallest shard.
        smallest = (train_ds.num_samples // plan.num_workers) // (
            cfg.batch_size * plan.local_replicas
        )
        steps = max(1, min(steps, smallest))
    model_cfg = cfg.model_config()
    _check_resumable(run_json, model_cfg, cfg, resume_from is not None)

    model = build_unet(model_cfg)
    if cfg.init_from and not resume_from:
        base = keras.saving.load_model(cfg.init_from, compile=False)
        model.set_weights(base.get_weights())
        print(f"initialised from {cfg.init_from}", flush=True)
    if cfg.freeze_encoder:
        n = _freeze_encoder(model)
        print(f"froze {n} encoder layers", flush=True)
    model.compile(
        optimizer=_optimizer(cfg, steps),
        loss=IntersectionLoss(alpha=cfg.loss_alpha),
        metrics=all_metrics(),
        jit_compile=_jit(cfg),
    )

    initial_epoch, seconds_before = 0, 0.0
    if resume_from:
        epoch, path = resume_from
        model.optimizer.build(model.trainable_variables)
        model.load_weights(path)
        if _iterations(model) != int(state.get("iterations", -1)):
            raise RuntimeError(
                f"{path}: the optimizer state did not load (step {_iterations(model)}, "
                f"expected {state.get('iterations')})"
            )
        initial_epoch, seconds_before = epoch, float(state.get("seconds", 0.0))
        print(
            f"resuming from {path} (epoch {epoch}, optimizer step {_iterations(model)})",
            flush=True,
        )
    initial_iterations = _iterations(model)

    if not run_json or not resume_from:
        widths = dataset_stroke_widths(train_ds, seed=cfg.seed)
        stroke, input_stroke, auto = widths["targets"], widths["inputs"], widths["auto"]
        run_json = {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "config": dataclasses.asdict(cfg),
            "model": model_cfg.to_dict(),
            "params": int(model.count_params()),
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
        if plan.is_chief:
            _write_json(run_dir / "run.json", run_json)
        print(
            f"stroke width: targets {run_json['stroke_width_px']} px (2 x median ridge distance),"
            f" inputs {run_json['input_stroke_width_px']} px (2 x ink area / outline: auto scale"
            " brings sketches to this width)",
            flush=True,
        )

    monitor = "val_loss" if val_ds is not None else "loss"
    callbacks, es, plateau, best_cb = _callbacks(
        cfg, run_dir, plan, state, monitor, initial_epoch, seconds_before, extra_callbacks
    )
    timer = callbacks[0]

    def state_fn(done: int) -> dict:
        return {
            "epoch": done,
            "iterations": _iterations(model),
            "seconds": timer.total,
            "early_stopping": es.state(),
            "plateau": plateau.state() if plateau else None,
            "best_val_loss": best_cb.best,
            "monitor": monitor,
            "finished": False,
        }

    checkpointer = Checkpointer(
        run_dir, cfg.checkpoint_every, cfg.keep_checkpoints, cfg.epochs, state_fn, plan.is_chief
    )
    # Order: timer (adds to the logs) -> plateau -> early stopping -> best weights -> CSV log
    # -> checkpoint (so a checkpointed epoch is always in the log) -> TensorBoard -> extra.
    csv_index = [type(c) for c in callbacks].index(CsvLog)
    callbacks.insert(csv_index + 1, checkpointer)

    fit_kw: dict[str, Any] = {}
    if plan.kind == "multi_worker":
        distribute.keras_multi_worker_workarounds(model, train_ds[0])
        x = _tf_distributed(strategy, train_ds, steps, initial_epoch)
        fit_kw["steps_per_epoch"] = steps
        if val_ds is not None:
            vsteps = max(
                1,
                (val_ds.num_samples // plan.num_workers) // (cfg.batch_size * plan.local_replicas),
            )
            fit_kw["validation_data"] = _tf_distributed(strategy, val_ds, vsteps, 0)
            fit_kw["validation_steps"] = vsteps
    else:
        train_ds.set_epoch(initial_epoch)
        x = train_ds
        if cfg.steps_per_epoch is not None:
            fit_kw["steps_per_epoch"] = steps
        fit_kw["validation_data"] = val_ds
    verbose = cfg.verbose if cfg.verbose is not None else (1 if sys.stdout.isatty() else 2)
    history = None
    if initial_epoch < cfg.epochs:
        history = model.fit(
            x,
            epochs=cfg.epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # SketchDataset shuffles itself, seeded by (seed, epoch)
            **fit_kw,
        )
    epochs_done = initial_epoch + (len(history.epoch) if history else 0)
    stopped_early = es.stopped_epoch > 0

    final = run_dir / "final.keras"
    _save_everywhere(model, final, plan.is_chief)
    rows = callbacks[[type(c) for c in callbacks].index(CsvLog)].rows
    summary = {
        "epochs": epochs_done,
        "steps": _iterations(model),
        "seconds": round(timer.total, 1),
        "stopped_early": stopped_early,
        "best_epoch": (es.best_epoch + 1) if es.best is not None else None,
        "monitor": monitor,
        "best_value": best_cb.best,
        "metrics": _best_metrics(rows),
        "backend": keras.backend.backend(),
        "devices": plan.describe(),
        "data": run_json.get("data"),
        "stroke_width_px": run_json.get("stroke_width_px"),
        "final_model": str(final),
    }
    if plan.is_chief:
        _write_json(run_dir / "summary.json", summary)
        # Mark the newest checkpoint as the end of the run.
        last = latest_checkpoint(run_dir)
        if last is not None:
            st = json.loads(last.with_suffix(".json").read_text())
            st.update(finished=True, stopped_early=stopped_early)
            _write_json(last.with_suffix(".json"), st)
    return TrainResult(
        run_dir=run_dir,
        initial_epoch=initial_epoch,
        initial_iterations=initial_iterations,
        epochs_done=epochs_done,
        iterations=_iterations(model),
        seconds=timer.total,
        history=rows,
        final_model=final if plan.is_chief else None,
        stopped_early=stopped_early,
        model=model,
    )


def _callbacks(cfg, run_dir, plan, state, monitor, initial_epoch, seconds_before, extra):
    es_state = state.get("early_stopping")
    best_val = state.get("best_val_loss")
    best_json = run_dir / "best.json"
    if es_state and best_json.exists():
        # Weights that improved after the checkpoint (before a kill) are real, validated
        # weights: keep them as the best so far rather than forgetting them.
        b = json.loads(best_json.read_text())
        if b.get("monitor") == monitor and (best_val is None or b["value"] < best_val):
            best_val = b["value"]
            es_state = {**es_state, "best": b["value"], "best_epoch": b["epoch"] - 1}
    timer = EpochTimer(seconds_before)
    callbacks: list[keras.callbacks.Callback] = [timer]
    plateau = None
    if cfg.lr_schedule == "plateau":
        plateau = ResumableReduceLROnPlateau(
            monitor=monitor,
            factor=0.5,
            patience=cfg.lr_patience,
            min_lr=cfg.lr / 100,
            verbose=1,
            restored=state.get("plateau"),
        )
        callbacks.append(plateau)
    es = ResumableEarlyStopping(
        monitor=monitor,
        patience=cfg.patience,
        restore_best_weights=True,
        verbose=1,
        restored=es_state,
        best_weights_file=run_dir / "best.weights.npz",
    )
    callbacks.append(es)
    best_cb = BestWeights(run_dir / "best.weights.npz", monitor, best_val, plan.is_chief)
    callbacks.append(best_cb)
    callbacks.append(CsvLog(run_dir / "log.csv", initial_epoch, plan.is_chief))
    if cfg.tensorboard and plan.is_chief:
        if _tensorboard_available():
            callbacks.append(
                keras.callbacks.TensorBoard(
                    log_dir=str(run_dir / "tensorboard"), write_graph=False, update_freq="epoch"
                )
            )
        else:
            print("tensorflow/tensorboard not importable: no TensorBoard logs", flush=True)
    callbacks.extend(extra)
    return callbacks, es, plateau, best_cb


def _tensorboard_available() -> bool:
    """TensorBoard logging needs tensorflow (tf.summary) and the tensorboard package."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "tensorboard"))


def _best_metrics(rows: list[dict]) -> dict[str, float]:
    """Validation metrics of the best epoch (lowest val_loss; training metrics without val)."""
    rows = [r for r in rows if r]
    if not rows:
        return {}
    key = "val_loss" if any(r.get("val_loss") not in (None, "") for r in rows) else "loss"
    best = min(rows, key=lambda r: float(r.get(key) or math.inf))
    prefix = "val_" if key == "val_loss" else ""
    out = {}
    for k, v in best.items():
        if k.startswith(prefix) and k != "epoch" and not k.endswith("seconds") and v != "":
            if prefix or not k.startswith("val_"):
                out[k[len(prefix) :]] = round(float(v), 5)
    out.pop("learning_rate", None)
    out["epoch"] = int(best["epoch"]) + 1
    out["split"] = "validation" if prefix else "training"
    return out


def _data_description(cfg: TrainConfig, train_ds: SketchDataset, val_ds) -> str:
    parts = [f"{Path(d).name or d}" for d in cfg.data]
    text = ", ".join(parts) if parts else ""
    if cfg.synthetic:
        text = (text + " + " if text else "") + f"{cfg.synthetic} synthetic pairs/epoch"
    text += f" (train {train_ds.describe()}"
    text += f"; val {val_ds.describe()})" if val_ds is not None else "; no validation)"
    return text
