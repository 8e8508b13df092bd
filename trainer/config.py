"""The options of one training run, checked before any work starts.

``python -m trainer train`` and ``fine-tune`` build a :class:`TrainConfig` from their flags;
code calls :func:`trainer.train.train` with one. ``run.json`` records it field by field, and
``trainer.export`` reads some fields back for the model card, so renaming a field changes the
files of a run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras

from trainer.model import PRESETS, UNetConfig, get_config, infer_config

__all__ = ["TrainConfig"]

LR_SCHEDULES = ("plateau", "cosine", "constant")
MIXED_PRECISION = (None, "float16", "bfloat16")
RESUME_MODES = ("auto", "always", "never")


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
    time_budget_minutes: float | None = None  # stop (and decay a cosine LR) by wall-clock time
    checkpoint_every: int = 1
    keep_checkpoints: int = 3
    patience: int = 10
    mixed_precision: str | None = None  # None | "float16" | "bfloat16"
    model_preset: str = "default"
    seed: int = 0
    val_split: float = 0.1
    steps_per_epoch: int | None = None
    augment: bool = True
    workers: int = 0  # data loaders (keras PyDataset's workers); 0: automatic
    use_multiprocessing: bool = False  # loaders are processes rather than threads
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

    def model_config(self) -> UNetConfig:
        """A fine-tune keeps its base model's architecture, whatever the preset says."""
        if self.init_from:
            base = keras.saving.load_model(self.init_from, compile=False)
            return infer_config(base)
        return get_config(self.model_preset)

    def validate(self) -> None:
        """Fail before the data is read and the model is built, with the flag to fix."""
        if not self.data and self.synthetic <= 0:
            raise ValueError("give at least one --data folder or --synthetic N")
        if self.model_preset not in PRESETS:
            raise ValueError(f"unknown --model-preset {self.model_preset!r}")
        if self.patch % 8:
            raise ValueError(f"--patch must be a multiple of 8, got {self.patch}")
        if self.epochs < 1 or self.batch_size < 1 or self.accum_steps < 1:
            raise ValueError("--epochs, --batch-size and --accum-steps must be >= 1")
        if self.time_budget_minutes is not None and self.time_budget_minutes <= 0:
            raise ValueError("--time-budget must be > 0 minutes")
        if self.checkpoint_every < 1:
            raise ValueError("--checkpoint-every must be >= 1")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown --lr-schedule {self.lr_schedule!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"unknown --mixed-precision {self.mixed_precision!r}")
        if self.resume not in RESUME_MODES:
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
