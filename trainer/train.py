"""Training loop: build the model, compile it, fit it, resuming from the newest checkpoint.

Starting ``train`` on a run directory that has checkpoints resumes from the newest one: model
weights, optimizer state (moments, iteration counter, learning rate, loss scale), the epoch
counter, early-stopping and LR-plateau state, the log and the cumulative training time. The
files of a run are described in :mod:`trainer.run_folder`, the options in
:mod:`trainer.config`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from trainer import distribute
from trainer.callbacks import Checkpointer, RunCallbacks
from trainer.config import TrainConfig
from trainer.losses import IntersectionLoss
from trainer.metrics import all_metrics
from trainer.model import build_unet, encoder_layer_names
from trainer.run_data import epoch_steps, fit_inputs, make_datasets
from trainer.run_folder import (
    RunStart,
    best_metrics,
    check_resumable,
    describe_run,
    open_run,
    save_model,
    write_json,
    write_summary,
)

__all__ = ["TrainResult", "train"]


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


def train(
    cfg: TrainConfig,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    make_pair=None,
) -> TrainResult:
    """Train (or resume) a run. ``callbacks`` are appended after the built-in ones."""
    cfg.validate()
    start = open_run(cfg)
    if start.is_complete(cfg.epochs):
        state = start.state
        print(f"{start.run_dir}: already complete after {state['epoch']} epochs", flush=True)
        return TrainResult(
            run_dir=start.run_dir,
            initial_epoch=state["epoch"],
            initial_iterations=state["iterations"],
            epochs_done=state["epoch"],
            iterations=state["iterations"],
            seconds=state["seconds"],
            history=[],
            final_model=start.run_dir / "final.keras",
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
                cfg, start, plan, strategy, extra_callbacks=callbacks, make_pair=make_pair
            )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train_in_scope(
    cfg: TrainConfig,
    start: RunStart,
    plan: distribute.DistributionPlan,
    strategy,
    *,
    extra_callbacks: Sequence[keras.callbacks.Callback],
    make_pair,
) -> TrainResult:
    """Build, compile and fit inside the strategy's scope (TensorFlow needs the model there)."""
    train_ds, val_ds = make_datasets(cfg, plan, make_pair)
    steps = epoch_steps(cfg, plan, train_ds)
    model_cfg = cfg.model_config()
    check_resumable(start, model_cfg, cfg)

    model = build_unet(model_cfg)
    if cfg.init_from and not start.checkpoint:
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

    if start.checkpoint:
        model.optimizer.build(model.trainable_variables)
        model.load_weights(start.checkpoint)
        if _iterations(model) != int(start.state.get("iterations", -1)):
            raise RuntimeError(
                f"{start.checkpoint}: the optimizer state did not load (step "
                f"{_iterations(model)}, expected {start.state.get('iterations')})"
            )
        print(
            f"resuming from {start.checkpoint} (epoch {start.epoch}, "
            f"optimizer step {_iterations(model)})",
            flush=True,
        )
    initial_epoch, initial_iterations = start.epoch, _iterations(model)

    run_json = start.run_json
    if not run_json or not start.checkpoint:
        run_json = describe_run(cfg, model_cfg, int(model.count_params()), train_ds, val_ds, plan)
        if plan.is_chief:
            write_json(start.run_dir / "run.json", run_json)
        print(
            f"stroke width: targets {run_json['stroke_width_px']} px (2 x median ridge distance),"
            f" inputs {run_json['input_stroke_width_px']} px (2 x ink area / outline: auto scale"
            " brings sketches to this width)",
            flush=True,
        )

    run_callbacks = RunCallbacks.create(
        cfg, start, "val_loss" if val_ds is not None else "loss", plan.is_chief
    )
    checkpointer = Checkpointer(
        start.run_dir,
        cfg.checkpoint_every,
        cfg.keep_checkpoints,
        cfg.epochs,
        lambda done: run_callbacks.state(done, _iterations(model)),
        plan.is_chief,
    )

    if plan.kind == "multi_worker":
        distribute.keras_multi_worker_workarounds(model, train_ds[0])
    x, fit_kw = fit_inputs(cfg, plan, strategy, train_ds, val_ds, steps, initial_epoch)
    verbose = cfg.verbose if cfg.verbose is not None else (1 if sys.stdout.isatty() else 2)
    history = None
    if initial_epoch < cfg.epochs:
        history = model.fit(
            x,
            epochs=cfg.epochs,
            initial_epoch=initial_epoch,
            callbacks=run_callbacks.in_order(checkpointer, extra_callbacks),
            verbose=verbose,
            shuffle=False,  # SketchDataset shuffles itself, seeded by (seed, epoch)
            **fit_kw,
        )
    epochs_done = initial_epoch + (len(history.epoch) if history else 0)
    es = run_callbacks.early_stopping
    stopped_early = es.stopped_epoch > 0

    final = start.run_dir / "final.keras"
    save_model(model, final, plan.is_chief)
    rows = run_callbacks.log.rows
    summary = {
        "epochs": epochs_done,
        "steps": _iterations(model),
        "seconds": round(run_callbacks.timer.total, 1),
        "stopped_early": stopped_early,
        "best_epoch": (es.best_epoch + 1) if es.best is not None else None,
        "monitor": run_callbacks.monitor,
        "best_value": run_callbacks.best.best,
        "metrics": best_metrics(rows),
        "backend": keras.backend.backend(),
        "devices": plan.describe(),
        "data": run_json.get("data"),
        "stroke_width_px": run_json.get("stroke_width_px"),
        "final_model": str(final),
    }
    if plan.is_chief:
        write_summary(start.run_dir, summary)
    return TrainResult(
        run_dir=start.run_dir,
        initial_epoch=initial_epoch,
        initial_iterations=initial_iterations,
        epochs_done=epochs_done,
        iterations=_iterations(model),
        seconds=run_callbacks.timer.total,
        history=rows,
        final_model=final if plan.is_chief else None,
        stopped_early=stopped_early,
        model=model,
    )


def _mixed_policy(name: str | None) -> str:
    return {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}.get(name or "", "float32")


def _freeze_encoder(model: keras.Model) -> int:
    names = set(encoder_layer_names(model))
    for layer in model.layers:
        if layer.name in names:
            layer.trainable = False
    return len(names)


def _optimizer(cfg: TrainConfig, steps_per_epoch: int):
    lr: Any = cfg.lr
    if cfg.lr_schedule == "cosine" and cfg.time_budget_minutes is None:
        # The schedule is evaluated at the optimizer's micro-step counter (every batch, also
        # under gradient accumulation), hence batches rather than updates. Under a time budget
        # the TimeBudget callback sets the rate instead.
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


def _iterations(model) -> int:
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))
