"""The built-in callbacks of a training run, and their state that survives a resume.

Keras keeps early-stopping and LR-plateau counters in memory only; the subclasses here take
them back from a checkpoint's state file, so a killed run continues as if it had not stopped.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from trainer.config import TrainConfig
from trainer.run_folder import RunStart, find_checkpoints, save_model, write_json

__all__ = [
    "RunCallbacks",
    "EpochTimer",
    "TimeBudget",
    "ResumableEarlyStopping",
    "ResumableReduceLROnPlateau",
    "CsvLog",
    "BestWeights",
    "Checkpointer",
]


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


class TimeBudget(keras.callbacks.Callback):
    """Ends training at the first epoch end past a wall-clock budget (all resumes together).

    On a leased GPU the time is known in advance and the step rate is not, so a ``cosine``
    schedule decays over the share of the budget spent instead of over a step count, set at
    each epoch start (short epochs make it smooth).
    """

    def __init__(self, timer: EpochTimer, seconds: float, cosine_from: float | None):
        super().__init__()
        self.timer, self.seconds, self.cosine_from = timer, seconds, cosine_from

    def learning_rate(self) -> float:
        assert self.cosine_from is not None
        spent = min(1.0, self.timer.total / self.seconds)
        return self.cosine_from * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * spent)))

    def on_epoch_begin(self, epoch, logs=None):
        if self.cosine_from is not None:
            self.model.optimizer.learning_rate = self.learning_rate()

    def on_epoch_end(self, epoch, logs=None):
        if self.timer.total >= self.seconds:
            print(f"time budget of {self.seconds / 60:g} min spent: stopping", flush=True)
            self.model.stop_training = True


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
    """ReduceLROnPlateau whose counters survive a resume."""

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
                write_json(self.path.with_name("best.json"), info)


class Checkpointer(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last): ``epoch-NNNN.keras`` + its state JSON.

    The state JSON is written first and the ``.keras`` file last, each atomically, so a
    checkpoint counts (see :func:`trainer.run_folder.find_checkpoints`) only once both are
    complete.
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
            write_json(path.with_suffix(".json"), state)
        save_model(self.model, path, self.write)
        if not self.write:
            return path
        if self.keep > 0:
            for _, old in find_checkpoints(self.dir.parent)[: -self.keep]:
                old.unlink(missing_ok=True)
                old.with_suffix(".json").unlink(missing_ok=True)
        return path


@dataclasses.dataclass
class RunCallbacks:
    """The built-in callbacks of one ``train`` call; their state goes into each checkpoint."""

    monitor: str
    timer: EpochTimer
    time_budget: TimeBudget | None
    plateau: ResumableReduceLROnPlateau | None
    early_stopping: ResumableEarlyStopping
    best: BestWeights
    log: CsvLog
    tensorboard: keras.callbacks.TensorBoard | None

    @classmethod
    def create(
        cls, cfg: TrainConfig, start: RunStart, monitor: str, is_chief: bool
    ) -> RunCallbacks:
        """Callbacks of a fresh run, or of a resumed one with the counters of its checkpoint."""
        run_dir, state = start.run_dir, start.state
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
        early_stopping = ResumableEarlyStopping(
            monitor=monitor,
            patience=cfg.patience,
            restore_best_weights=True,
            verbose=1,
            restored=es_state,
            best_weights_file=run_dir / "best.weights.npz",
        )
        tensorboard = None
        if cfg.tensorboard and is_chief:
            if _tensorboard_available():
                tensorboard = keras.callbacks.TensorBoard(
                    log_dir=str(run_dir / "tensorboard"), write_graph=False, update_freq="epoch"
                )
            else:
                print("tensorflow/tensorboard not importable: no TensorBoard logs", flush=True)
        timer = EpochTimer(float(state.get("seconds", 0.0)))
        time_budget = None
        if cfg.time_budget_minutes is not None:
            cosine_from = cfg.lr if cfg.lr_schedule == "cosine" else None
            time_budget = TimeBudget(timer, cfg.time_budget_minutes * 60.0, cosine_from)
        return cls(
            monitor=monitor,
            timer=timer,
            time_budget=time_budget,
            plateau=plateau,
            early_stopping=early_stopping,
            best=BestWeights(run_dir / "best.weights.npz", monitor, best_val, is_chief),
            log=CsvLog(run_dir / "log.csv", start.epoch, is_chief),
            tensorboard=tensorboard,
        )

    def state(self, done: int, iterations: int) -> dict:
        """The state file of a checkpoint after epoch ``done``."""
        return {
            "epoch": done,
            "iterations": iterations,
            "seconds": self.timer.total,
            "early_stopping": self.early_stopping.state(),
            "plateau": self.plateau.state() if self.plateau else None,
            "best_val_loss": self.best.best,
            "monitor": self.monitor,
            "finished": False,
        }

    def in_order(
        self, checkpointer: Checkpointer, extra: Sequence[keras.callbacks.Callback]
    ) -> list[keras.callbacks.Callback]:
        """Timer (adds to the logs) -> time budget (reads the timer) -> plateau -> early
        stopping -> best weights -> CSV log -> checkpoint (so a checkpointed epoch is always in
        the log) -> TensorBoard -> extra."""
        ordered = [
            self.timer,
            self.time_budget,
            self.plateau,
            self.early_stopping,
            self.best,
            self.log,
            checkpointer,
            self.tensorboard,
        ]
        return [c for c in ordered if c is not None] + list(extra)


def _tensorboard_available() -> bool:
    """TensorBoard logging needs tensorflow (tf.summary) and the tensorboard package."""
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "tensorboard"))
