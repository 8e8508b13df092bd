"""Fixtures of the trainer tests: small generated (rough, clean) pairs and tiny configs."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_simple_pair(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A (rough, clean) uint8 pair in the ``trainer.synth.make_pair`` convention.

    Clean: a few black 2-3 px lines and circles on white. Rough: the same strokes drawn twice
    with jitter in gray pencil, plus light construction lines, blur and noise.
    """
    clean = np.full((size, size), 255, np.uint8)
    rough = np.full((size, size), 255, np.uint8)
    for _ in range(int(rng.integers(2, 5))):
        width = int(rng.integers(2, 4))
        if rng.random() < 0.7:
            p0, p1 = rng.integers(4, size - 4, size=(2, 2))
            cv2.line(clean, tuple(map(int, p0)), tuple(map(int, p1)), 0, width, cv2.LINE_8)
            for _ in range(2):
                j0 = p0 + rng.integers(-2, 3, size=2)
                j1 = p1 + rng.integers(-2, 3, size=2)
                ink = int(rng.integers(40, 130))
                cv2.line(rough, tuple(map(int, j0)), tuple(map(int, j1)), ink, 1, cv2.LINE_AA)
        else:
            c = rng.integers(size // 4, 3 * size // 4, size=2)
            r = int(rng.integers(size // 10, size // 4))
            cv2.circle(clean, tuple(map(int, c)), r, 0, width, cv2.LINE_8)
            for _ in range(2):
                cj = c + rng.integers(-2, 3, size=2)
                ink = int(rng.integers(40, 130))
                cv2.circle(rough, tuple(map(int, cj)), r + int(rng.integers(-1, 2)), ink, 1)
    # light construction lines that the network must drop
    for _ in range(int(rng.integers(0, 3))):
        p0, p1 = rng.integers(0, size, size=(2, 2))
        cv2.line(rough, tuple(map(int, p0)), tuple(map(int, p1)), 215, 1, cv2.LINE_AA)
    rough = cv2.GaussianBlur(rough, (0, 0), 0.7).astype(np.float32)
    rough += rng.normal(0, 4, rough.shape)
    return np.clip(rough, 0, 255).astype(np.uint8), clean


def write_pair_folder(root: Path, n: int, size: int, seed: int = 0, ext: str = ".png") -> Path:
    (root / "input").mkdir(parents=True, exist_ok=True)
    (root / "target").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rough, clean = make_simple_pair(np.random.default_rng([seed, i]), size)
        cv2.imwrite(str(root / "input" / f"s{i:03d}{ext}"), rough)
        cv2.imwrite(str(root / "target" / f"s{i:03d}.png"), clean)
    return root


@pytest.fixture(scope="session")
def pair_folder(tmp_path_factory) -> Path:
    """12 pairs of 96x96 images (input as .jpg, target as .png: matched by stem)."""
    return write_pair_folder(tmp_path_factory.mktemp("pairs"), 12, 96, ext=".jpg")


class LossProbe:
    """A Keras callback: the loss on a fixed batch (training-mode BN) at start and end."""

    def __new__(cls, x, y):
        import keras

        from trainer.losses import IntersectionLoss

        class _Probe(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.before = self.after = None

            def _loss(self):
                pred = self.model(x, training=True)
                return float(keras.ops.convert_to_numpy(IntersectionLoss()(y, pred)))

            def on_train_begin(self, logs=None):
                self.before = self._loss()

            def on_train_end(self, logs=None):
                self.after = self._loss()

        return _Probe()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, pair_folder):
    """A tiny model trained 3 epochs on the fixture pairs (+ streamed pairs): the run result
    and the probe of its loss on a fixed batch."""
    from trainer.config import TrainConfig
    from trainer.data import SketchDataset
    from trainer.train import train

    probe_ds = SketchDataset(
        patch=64, batch_size=8, synthetic=8, make_pair=make_simple_pair, seed=99, train=False
    )
    probe = LossProbe(*probe_ds[0])
    cfg = TrainConfig(
        out=str(tmp_path_factory.mktemp("run") / "run"),
        data=[str(pair_folder)],
        synthetic=12,
        epochs=3,
        batch_size=4,
        patch=64,
        model_preset="tiny",
        seed=1,
        val_split=0.2,
        workers=1,
        verbose=0,
        augment=False,
    )
    result = train(cfg, callbacks=[probe], make_pair=make_simple_pair)
    return result, probe, cfg
