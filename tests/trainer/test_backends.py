"""The trainer under the other Keras backends, in subprocesses; skipped where not installed.

PyTorch trains on one device; JAX runs with two virtual CPU devices, so its
``keras.distribution.DataParallel`` path (the multi-GPU path under JAX) is exercised too.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import keras
assert keras.backend.backend() == {backend!r}, keras.backend.backend()
from tests.trainer.conftest import LossProbe, make_simple_pair
from trainer.data import SketchDataset
from trainer.config import TrainConfig
from trainer.train import train
x, y = SketchDataset(patch=32, batch_size=8, synthetic=8, make_pair=make_simple_pair, seed=5,
                     train=False)[0]
probe = LossProbe(x, y)
devices = None
if {backend!r} == "jax":
    import jax
    devices = [str(d) for d in jax.devices()]
    assert len(devices) == 2, devices
cfg = TrainConfig(out={out!r}, synthetic=16, epochs=2, batch_size=2, accum_steps=2, patch=32,
                  model_preset="tiny", workers=1, verbose=0, augment=False, devices=devices)
r = train(cfg, callbacks=[probe], make_pair=make_simple_pair)
print("RESULT", r.iterations, probe.before, probe.after)
"""


@pytest.mark.parametrize(
    "backend, replicas",
    [
        pytest.param(
            "torch",
            1,
            marks=pytest.mark.skipif(
                importlib.util.find_spec("torch") is None, reason="PyTorch not installed"
            ),
        ),
        pytest.param(
            "jax",
            2,
            marks=[
                pytest.mark.skipif(
                    importlib.util.find_spec("jax") is None, reason="JAX not installed"
                ),
                # ~40 s of CPU (Keras' JAX fit setup and XLA compiles): opt in
                pytest.mark.slow,
                pytest.mark.skipif(
                    not os.environ.get("SKETCH_SLOW_TESTS"),
                    reason="slow: set SKETCH_SLOW_TESTS=1 to run",
                ),
            ],
        ),
    ],
)
def test_tiny_model_trains_under_backend(backend, replicas, tmp_path):
    out = tmp_path / "run"
    script = textwrap.dedent(SCRIPT.format(root=str(ROOT), backend=backend, out=str(out)))
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"  # two JAX CPU devices
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    _, iterations, before, after = line.split()
    # 16 pairs / (2 per device x replicas) batches per epoch, 2 epochs, 2 batches per update
    assert int(iterations) == 2 * (16 // (2 * replicas)) // 2
    assert float(after) < float(before)
    run = json.loads((out / "run.json").read_text())
    kind = "jax_data_parallel" if replicas > 1 else "single"
    assert run["devices"].startswith(f"{backend}/{kind}: {replicas} replica(s)")
    assert json.loads((out / "summary.json").read_text())["backend"] == backend


LOSS_METRICS = """
import sys
sys.path.insert(0, {root!r})
import keras, numpy as np
assert keras.backend.backend() == {backend!r}
from trainer.losses import IntersectionLoss
from trainer.metrics import compute_metrics
y = np.array([[1, 0], [0, 1]], np.float32)
p = np.array([[0.2, 0.3], [0.7, 0.9]], np.float32)
m = compute_metrics(y, p)
assert abs(m["iou"] - 1 / 3) < 1e-6 and abs(m["f1"] - 0.5) < 1e-6, m
assert abs(m["gmi"] - (0.25 + 0.5 / 1.9)) < 1e-5, m
blank = np.ones((1, 2, 2, 1), np.float32)
loss = float(keras.ops.convert_to_numpy(IntersectionLoss()(blank, blank * 0.9)))
assert abs(loss - 0.05) < 1e-5, loss
print("OK")
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_loss_and_metrics_under_backend(backend):
    """Cheap check that the loss and the stateful metrics are backend-agnostic."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} not installed")
    script = textwrap.dedent(LOSS_METRICS.format(root=str(ROOT), backend=backend))
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "OK" in proc.stdout
