"""Strategy selection (pure logic) and the real MirroredStrategy path on 2 logical CPUs."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trainer.distribute import activate, parse_tf_config, plan_distribution

ROOT = Path(__file__).resolve().parents[2]
GPUS = ["/physical_device:GPU:0", "/physical_device:GPU:1", "/physical_device:GPU:2"]


def tf_config(workers, index, task="worker", chief=0):
    cluster = {"worker": [f"host{i}:2222" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["chief:2222"]
    return json.dumps({"cluster": cluster, "task": {"type": task, "index": index}})


def test_single_device_paths():
    for backend in ("tensorflow", "jax", "torch"):
        for gpus in ([], GPUS[:1]):
            plan = plan_distribution(backend, gpus)
            assert plan.kind == "single" and plan.replicas == 1
            assert plan.global_batch(4) == 4


def test_tensorflow_mirrored_when_several_gpus():
    plan = plan_distribution("tensorflow", GPUS)
    assert plan.kind == "mirrored" and plan.replicas == 3
    assert plan.global_batch(4) == 12 and plan.worker_batch(4) == 12
    chosen = plan_distribution("tensorflow", GPUS, devices=["/gpu:0", "/gpu:2"])
    assert chosen.kind == "mirrored" and chosen.replicas == 2
    assert plan_distribution("tensorflow", GPUS, devices=["/gpu:1"]).kind == "single"


def test_jax_data_parallel_and_torch_single():
    plan = plan_distribution("jax", GPUS[:2])
    assert plan.kind == "jax_data_parallel" and plan.global_batch(8) == 16
    torch_plan = plan_distribution("torch", GPUS[:2])
    assert torch_plan.kind == "single" and torch_plan.notes


def test_multi_worker_from_tf_config():
    plan = plan_distribution("tensorflow", GPUS[:2], multi_worker=True, tf_config=tf_config(3, 1))
    assert plan.kind == "multi_worker"
    assert (plan.num_workers, plan.worker_index, plan.is_chief) == (3, 1, False)
    assert plan.replicas == 6 and plan.global_batch(4) == 24 and plan.worker_batch(4) == 8
    assert plan_distribution("tensorflow", [], True, tf_config(2, 0)).is_chief
    assert parse_tf_config(tf_config(2, 0, chief=1)) == (3, 1, False)
    assert parse_tf_config(tf_config(2, 0, task="chief", chief=1)) == (3, 0, True)


def test_multi_worker_errors():
    with pytest.raises(ValueError, match="TF_CONFIG"):
        plan_distribution("tensorflow", [], multi_worker=True, tf_config=None)
    with pytest.raises(ValueError, match="not valid"):
        parse_tf_config("{not json")
    with pytest.raises(ValueError, match="only chief/worker"):
        parse_tf_config(tf_config(2, 0, task="ps"))
    with pytest.raises(ValueError, match="out of range"):
        parse_tf_config(tf_config(2, 5))
    with pytest.raises(ValueError, match="TensorFlow backend only"):
        plan_distribution("jax", GPUS, multi_worker=True, tf_config=tf_config(2, 0))


def test_activate_single_is_a_no_op():
    with activate(plan_distribution("tensorflow", [])) as strategy:
        assert strategy is None


@pytest.mark.slow  # ~15 s on 2 cores: TensorFlow in a subprocess
def test_mirrored_strategy_trains_on_two_logical_cpus(tmp_path, pair_folder):
    """The real MirroredStrategy code path (scope, global batch, fit) on 2 virtual CPUs."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from trainer.config import TrainConfig
        from trainer.train import train
        cfg = TrainConfig(out={str(tmp_path / "run")!r}, data=[{str(pair_folder)!r}],
                          epochs=1, batch_size=2, patch=32, model_preset="tiny",
                          devices=["/cpu:0", "/cpu:1"], workers=1, verbose=0, val_split=0.2)
        r = train(cfg)
        print("ITER", r.iterations)
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["devices"].startswith("tensorflow/mirrored: 2 replica(s)")
    # 10 training pairs, global batch 2 x 2 replicas = 4 -> 2 steps
    assert "ITER 2" in proc.stdout


WORKER = """
import json, os, sys
sys.path.insert(0, {root!r})
from tests.trainer.conftest import make_simple_pair
from trainer.config import TrainConfig
from trainer.train import train
cfg = TrainConfig(out={out!r}, data=[{data!r}], synthetic=4, epochs=2, batch_size=2, patch=32,
                  model_preset="tiny", multi_worker=True, workers=1, verbose=2, val_split=0.2)
r = train(cfg, make_pair=make_simple_pair)
print("RESULT", r.epochs_done, r.iterations, r.final_model is not None)
"""


def _free_ports(n):
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.mark.slow  # ~30 s on 2 cores: two TensorFlow workers
def test_multi_worker_training_with_two_local_workers(tmp_path, pair_folder):
    """Two real MultiWorkerMirroredStrategy workers on this machine (TF_CONFIG, collectives,
    sharded data, chief-only files); guards the Keras workarounds in trainer.distribute."""
    out = tmp_path / "run"
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(root=str(ROOT), out=str(out), data=str(pair_folder)))
    hosts = [f"localhost:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "TF_CPP_MIN_LOG_LEVEL": "3"}
        env["KERAS_BACKEND"] = "tensorflow"
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=300)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, text in zip(procs, outputs, strict=True):
        assert p.returncode == 0, text[-4000:]
    # 10 train pairs + 4 synthetic = 14 samples, 7 per worker, batch 2 per replica -> 3 steps
    assert "RESULT 2 6 True" in outputs[0] and "RESULT 2 6 False" in outputs[1]
    val_losses = [
        [ln.split("val_loss: ")[1].split()[0] for ln in text.splitlines() if "val_loss: " in ln]
        for text in outputs
    ]
    assert len(val_losses[0]) == 2 and val_losses[0] == val_losses[1]  # same logs everywhere
    run = json.loads((out / "run.json").read_text())
    assert run["devices"].startswith("tensorflow/multi_worker: 2 replica(s)")
    assert (out / "final.keras").exists()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "epoch-0001.json",
        "epoch-0001.keras",
        "epoch-0002.json",
        "epoch-0002.keras",
    ]
