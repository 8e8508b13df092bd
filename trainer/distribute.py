"""Choice of the distribution strategy (one device, several GPUs, several machines).

* TensorFlow backend: ``tf.distribute.MirroredStrategy`` when more than one GPU is visible (or
  an explicit ``devices`` list has several entries); ``MultiWorkerMirroredStrategy`` with
  ``multi_worker=True`` (the cluster comes from the ``TF_CONFIG`` environment variable).
* JAX backend: ``keras.distribution.DataParallel`` over all visible GPUs.
* PyTorch backend: one device (Keras does not distribute ``fit`` under torch).

Batch sizes given by the user are *per device*; the global batch is ``per_device * replicas``.
:func:`plan_distribution` is pure (no TensorFlow/JAX import) so the choice is unit-tested on
a CPU; :func:`activate` creates the strategy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["DistributionPlan", "plan_distribution", "detect_gpus", "activate", "parse_tf_config"]

KINDS = ("single", "mirrored", "multi_worker", "jax_data_parallel")


@dataclasses.dataclass(frozen=True)
class DistributionPlan:
    kind: str
    backend: str
    local_devices: tuple[str, ...] = ()  # devices used on this machine (empty: default device)
    num_workers: int = 1
    worker_index: int = 0
    is_chief: bool = True
    notes: tuple[str, ...] = ()

    @property
    def local_replicas(self) -> int:
        return max(1, len(self.local_devices)) if self.kind != "single" else 1

    @property
    def replicas(self) -> int:
        """Replicas in sync over all workers (assumes the same device count per worker)."""
        return self.local_replicas * self.num_workers

    def global_batch(self, per_device: int) -> int:
        return per_device * self.replicas

    def worker_batch(self, per_device: int) -> int:
        """Batch that this worker's input pipeline produces per step."""
        return per_device * self.local_replicas

    def describe(self) -> str:
        dev = ", ".join(self.local_devices) or "default device"
        text = f"{self.backend}/{self.kind}: {self.replicas} replica(s) [{dev}]"
        if self.num_workers > 1:
            text += f", worker {self.worker_index} of {self.num_workers}"
        return text


def parse_tf_config(tf_config: str | None) -> tuple[int, int, bool]:
    """``(num_workers, worker_index, is_chief)`` from a TF_CONFIG JSON string."""
    if not tf_config:
        raise ValueError(
            "--multi-worker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}} (see docs/training.md)'
        )
    try:
        cfg = json.loads(tf_config)
        cluster = cfg["cluster"]
        task = cfg["task"]
        task_type, task_index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"TF_CONFIG is not valid: {e}") from e
    chiefs = list(cluster.get("chief", []))
    workers = list(cluster.get("worker", []))
    if task_type not in ("chief", "worker"):
        raise ValueError(f"TF_CONFIG task type {task_type!r}: only chief/worker take part")
    num = len(chiefs) + len(workers)
    if num == 0:
        raise ValueError("TF_CONFIG cluster lists no chief or worker")
    index = task_index if task_type == "chief" else len(chiefs) + task_index
    if index >= num:
        raise ValueError(f"TF_CONFIG task index {task_index} out of range")
    is_chief = task_type == "chief" or (not chiefs and task_index == 0)
    return num, index, is_chief


def plan_distribution(
    backend: str,
    gpus: Sequence[str],
    multi_worker: bool = False,
    tf_config: str | None = None,
    devices: Sequence[str] | None = None,
) -> DistributionPlan:
    """Decide how to distribute training. ``gpus``: the visible GPU names.

    ``devices`` overrides the device list for MirroredStrategy (e.g. ``["/gpu:0", "/gpu:2"]``,
    or logical CPUs in tests).
    """
    local = tuple(devices) if devices else tuple(gpus)
    if backend == "tensorflow":
        if multi_worker:
            num, index, chief = parse_tf_config(tf_config)
            return DistributionPlan("multi_worker", backend, local, num, index, chief)
        if len(local) > 1:
            return DistributionPlan("mirrored", backend, local)
        return DistributionPlan("single", backend, local[:1])
    if multi_worker:
        raise ValueError(
            f"--multi-worker is implemented for the TensorFlow backend only (got {backend}); "
            "see docs/training.md for multi-host JAX"
        )
    if backend == "jax":
        if len(local) > 1:
            return DistributionPlan("jax_data_parallel", backend, local)
        return DistributionPlan("single", backend, local[:1])
    notes: tuple[str, ...] = ()
    if len(local) > 1:
        notes = (f"{backend} backend: training on one device although {len(local)} are visible",)
    return DistributionPlan("single", backend, local[:1], notes=notes)


def detect_gpus(backend: str) -> list[str]:
    """Names of the GPUs the given Keras backend can see (empty on a CPU-only machine)."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return [d.name for d in tf.config.list_physical_devices("GPU")]
        if backend == "jax":
            import jax

            return [str(d) for d in jax.devices() if d.platform == "gpu"]
        if backend == "torch":
            import torch

            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    except Exception as e:  # pragma: no cover - broken driver setups
        log.warning("could not list GPUs (%s); using the default device", e)
    return []


@contextlib.contextmanager
def activate(plan: DistributionPlan) -> Iterator[Any]:
    """Create the strategy of ``plan``; yields it (``None`` for the single-device path).

    Build and compile the model inside this context (TensorFlow needs it in
    ``strategy.scope()``).
    """
    for note in plan.notes:
        log.warning(note)
    if plan.kind == "single":
        yield None
        return
    if plan.kind in ("mirrored", "multi_worker"):
        import tensorflow as tf

        if plan.kind == "mirrored":
            strategy = tf.distribute.MirroredStrategy(devices=list(plan.local_devices))
        else:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        with strategy.scope():
            yield strategy
        return
    if plan.kind == "jax_data_parallel":
        import jax
        import keras

        wanted = set(plan.local_devices)
        devs = [d for d in jax.devices() if str(d) in wanted] or jax.devices()
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devs))
        try:
            yield keras.distribution.distribution()
        finally:
            keras.distribution.set_distribution(previous)
        return
    raise ValueError(f"unknown distribution kind {plan.kind!r}")


def task_environment() -> dict[str, str]:
    """The variables that matter for distribution, for the run log."""
    keys = ("KERAS_BACKEND", "TF_CONFIG", "CUDA_VISIBLE_DEVICES", "XLA_FLAGS")
    return {k: os.environ[k] for k in keys if k in os.environ}


def keras_multi_worker_workarounds(model, sample_batch) -> None:
    """Make Keras 3 ``fit`` work under MultiWorkerMirroredStrategy with several workers.

    Keras 3 (checked with 3.15, keras-team/keras#20585) fails there in two places, both with
    per-replica values that it reduces across workers:

    1. ``fit`` reduces the first distributed batch to get a sample for its symbolic build
       ("Attempt to convert a value (PerReplica...)"): build from a local batch instead (only
       its shapes matter);
    2. each step reduces its scalar logs with ``strategy.reduce("MEAN", v, axis=0)``, which
       fails on scalars ("Invalid reduction dimension 0"): reduce scalars with ``axis=None``.
       The reduced logs are the same on every worker, so early stopping, LR plateaus and
       checkpoints decide alike everywhere.

    Both patch Keras internals (the second module-wide, only for multi-worker strategies);
    ``tests/trainer/test_distribute.py`` runs two real local workers to catch a Keras change.
    """
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original_build = model._maybe_symbolic_build

    def build(iterator=None, data_batch=None):
        return original_build(data_batch=sample_batch)

    model._maybe_symbolic_build = build

    if getattr(tf_trainer, "_sketch_multi_worker_patch", False):
        return
    original_reduce = tf_trainer.reduce_per_replica
    multi_worker = tf_trainer._collective_all_reduce_multi_worker

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not multi_worker(strategy):
            return original_reduce(values, strategy, reduction)

        def _reduce(v):
            local = strategy.experimental_local_results(v)[0]
            axis = 0 if getattr(local.shape, "rank", 0) else None
            return strategy.reduce("MEAN", v, axis=axis)

        import keras

        return keras.tree.map_structure(_reduce, values)

    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer._sketch_multi_worker_patch = True
