"""Training end to end with a tiny real model: learning, checkpoints, resume, options."""

import csv
import dataclasses
import json

import keras
import numpy as np
import pytest

from tests.trainer.conftest import make_simple_pair
from trainer.config import TrainConfig
from trainer.run_folder import find_checkpoints
from trainer.train import train

# Keras' TF backend calls np.array(variable, copy=False) in get_weights (numpy 2 deprecation)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_loss_goes_down(trained_run):
    result, probe, _ = trained_run
    assert result.epochs_done == 3 and result.initial_epoch == 0
    # 23 samples / batch 4 -> 5 steps per epoch
    assert result.iterations == 15
    assert probe.before > 0.3  # an untrained sigmoid U-Net sits near 0.5
    assert probe.after < probe.before - 0.05, (probe.before, probe.after)
    losses = [float(r["loss"]) for r in result.history]
    assert losses[-1] < losses[0]


def test_run_directory_contents(trained_run):
    result, _, cfg = trained_run
    run = result.run_dir
    run_json = json.loads((run / "run.json").read_text())
    assert run_json["model"]["widths"] == [8, 16, 16, 32]
    assert run_json["stroke_width_px"] > 1
    assert run_json["config"]["patch"] == 64
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["steps"] == 15
    assert summary["metrics"]["split"] == "validation"
    assert {"iou", "f1", "pmi", "gmi", "loss"} <= set(summary["metrics"])
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert {"epoch_seconds", "learning_rate", "val_loss", "val_iou"} <= set(rows[0])
    assert all(float(r["epoch_seconds"]) > 0 for r in rows)
    assert [e for e, _ in find_checkpoints(run)] == [1, 2, 3]
    assert (run / "final.keras").exists() and (run / "best.weights.npz").exists()
    loaded = keras.saving.load_model(run / "final.keras")  # with optimizer and loss
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 15


def test_completed_run_is_not_retrained(trained_run):
    result, _, cfg = trained_run
    again = train(cfg, make_pair=make_simple_pair)
    assert again.epochs_done == 3 and again.history == [] and again.model is None


class Kill(keras.callbacks.Callback):
    """Stops the process-equivalent of a kill right after epoch ``after`` (1-based)."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt("simulated kill")


class Snapshot(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = self.model.get_weights()
        self.opt = [keras.ops.convert_to_numpy(v) for v in self.model.optimizer.variables]


def tiny_run(tmp_path, pair_folder, **changes) -> TrainConfig:
    """The tiny model on the fixture pairs at 32 px, cosine schedule, in tmp_path/run."""
    return TrainConfig(
        out=str(tmp_path / "run"),
        data=[str(pair_folder)],
        batch_size=4,
        patch=32,
        model_preset="tiny",
        val_split=0.2,
        workers=1,
        verbose=0,
        lr_schedule="cosine",
        **changes,
    )


def test_kill_and_resume_continues_with_same_state(tmp_path, pair_folder):
    cfg = tiny_run(tmp_path, pair_folder, epochs=4, checkpoint_every=2)
    # 10 train pairs / batch 4 -> 2 steps per epoch
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callbacks=[Kill(after=3)])
    # epoch 3 ran but only epoch 2 was checkpointed; the log already has epoch 3
    assert [e for e, _ in find_checkpoints(cfg.out)] == [2]
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    state = json.loads((tmp_path / "run" / "checkpoints" / "epoch-0002.json").read_text())
    assert state["epoch"] == 2 and state["iterations"] == 4 and not state["finished"]
    saved = keras.saving.load_model(tmp_path / "run" / "checkpoints" / "epoch-0002.keras")

    snap = Snapshot()
    result = train(cfg, callbacks=[snap])
    assert result.initial_epoch == 2  # continues with epoch 3
    assert result.initial_iterations == 4
    assert result.epochs_done == 4 and result.iterations == 8
    for a, b in zip(snap.weights, saved.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(snap.opt, saved.optimizer.variables, strict=True):
        # Adam moments, step counter, learning rate
        np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(b))
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]  # epoch 3 logged once, from the rerun
    assert [e for e, _ in find_checkpoints(cfg.out)] == [2, 4]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 8
    # cosine schedule: the learning rate keeps decaying across the resume
    lrs = [float(r["learning_rate"]) for r in rows]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0]

    with pytest.raises(FileExistsError):
        train(dataclasses.replace(cfg, resume="never"))
    with pytest.raises(ValueError, match="trained with model"):
        train(dataclasses.replace(cfg, model_preset="small", epochs=5))
    with pytest.raises(ValueError, match="accum_steps=1"):
        train(dataclasses.replace(cfg, accum_steps=2, epochs=5))


def test_resume_always_needs_a_checkpoint(tmp_path, pair_folder):
    cfg = TrainConfig(out=str(tmp_path / "r"), data=[str(pair_folder)], resume="always")
    with pytest.raises(FileNotFoundError):
        train(cfg)


def test_config_validation():
    for bad in (
        dict(data=[]),
        dict(data=["x"], patch=100),
        dict(data=["x"], lr_schedule="step"),
        dict(data=["x"], mixed_precision="int8"),
        dict(data=["x"], target_threshold="high"),
        dict(data=["x"], loss_alpha=1.0),
    ):
        with pytest.raises(ValueError):
            TrainConfig(out="unused", **bad).validate()
    with pytest.raises(FileNotFoundError):
        TrainConfig(out="unused", data=["x"], init_from="/nonexistent.keras").validate()


def test_time_budget_stops_at_the_first_epoch_end_past_it(tmp_path, pair_folder):
    # a budget spent within the first epoch
    cfg = tiny_run(tmp_path, pair_folder, epochs=50, time_budget_minutes=1e-6)
    result = train(cfg)
    assert result.epochs_done == 1 and not result.stopped_early
    assert [e for e, _ in find_checkpoints(cfg.out)] == [1]  # the stop is checkpointed
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert float(rows[0]["learning_rate"]) == pytest.approx(cfg.lr)  # nothing spent yet


def test_time_budget_decays_a_cosine_rate_over_the_time_spent():
    from trainer.callbacks import EpochTimer, TimeBudget

    def rate(spent: float, cosine_from: float | None = 1e-3) -> float:
        return TimeBudget(EpochTimer(spent), 600.0, cosine_from).learning_rate()

    assert rate(0.0) == pytest.approx(1e-3)
    assert rate(300.0) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert rate(600.0) == pytest.approx(1e-5) == rate(900.0)  # floor: lr / 100
    rates = [rate(s) for s in range(0, 601, 60)]
    assert rates == sorted(rates, reverse=True)
