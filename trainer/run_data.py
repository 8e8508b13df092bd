"""The training and validation data of a run, batched and sharded for its distribution plan.

Batch sizes in a :class:`~trainer.config.TrainConfig` are per device. On one machine a
:class:`~trainer.data.SketchDataset` yields global batches (per device x replicas) that Keras
splits; under multi-worker training each worker loads its own shard through ``tf.data``, and
every worker must run the same number of steps.
"""

from __future__ import annotations

import os
from typing import Any

from trainer.augment import AugmentConfig
from trainer.config import TrainConfig
from trainer.data import SketchDataset, find_pairs, split_pairs
from trainer.distribute import DistributionPlan

__all__ = ["make_datasets", "epoch_steps", "fit_inputs"]


def make_datasets(
    cfg: TrainConfig, plan: DistributionPlan, make_pair
) -> tuple[SketchDataset, SketchDataset | None]:
    """Training and validation datasets (no validation when there is nothing to hold out)."""
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
        # Keras keeps at most this many batches in flight: enough to keep every loader busy.
        max_queue_size=max(10, 2 * workers),
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


def epoch_steps(cfg: TrainConfig, plan: DistributionPlan, train_ds: SketchDataset) -> int:
    """Batches per epoch: the whole training set, or ``--steps-per-epoch`` if fewer."""
    steps = (
        len(train_ds) if cfg.steps_per_epoch is None else min(cfg.steps_per_epoch, len(train_ds))
    )
    if plan.kind == "multi_worker":
        # Every worker must run the same number of steps: size them on the smallest shard.
        steps = max(1, min(steps, _shard_steps(cfg, plan, train_ds)))
    return steps


def _shard_steps(cfg: TrainConfig, plan: DistributionPlan, ds: SketchDataset) -> int:
    """Steps that the smallest worker's shard of ``ds`` fills."""
    return (ds.num_samples // plan.num_workers) // (cfg.batch_size * plan.local_replicas)


def fit_inputs(
    cfg: TrainConfig,
    plan: DistributionPlan,
    strategy,
    train_ds: SketchDataset,
    val_ds: SketchDataset | None,
    steps: int,
    initial_epoch: int,
) -> tuple[Any, dict[str, Any]]:
    """``(x, keyword arguments)`` for ``model.fit``, starting at epoch ``initial_epoch``."""
    fit_kw: dict[str, Any] = {}
    if plan.kind == "multi_worker":
        x = _tf_distributed(strategy, train_ds, steps, initial_epoch)
        fit_kw["steps_per_epoch"] = steps
        if val_ds is not None:
            vsteps = max(1, _shard_steps(cfg, plan, val_ds))
            fit_kw["validation_data"] = _tf_distributed(strategy, val_ds, vsteps, 0)
            fit_kw["validation_steps"] = vsteps
        return x, fit_kw
    train_ds.set_epoch(initial_epoch)
    if cfg.steps_per_epoch is not None:
        fit_kw["steps_per_epoch"] = steps
    fit_kw["validation_data"] = val_ds
    return train_ds, fit_kw


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
