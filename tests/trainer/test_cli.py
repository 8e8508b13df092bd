"""The command line: entry point and help (subprocess), fine-tune -> export -> evaluate."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from trainer.__main__ import _train_config, build_parser, main
from trainer.synth import cli as synth_cli

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
ROOT = Path(__file__).resolve().parents[2]


def test_help_is_instant_and_lists_commands():
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from trainer.__main__ import main; main(['--help'])"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0
    for cmd in ("train", "fine-tune", "evaluate", "export", "synth"):
        assert cmd in out.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "train", "--help"], capture_output=True, text=True,
        cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0
    for flag in (
        "--data", "--synthetic", "--out", "--epochs", "--batch-size", "--accum-steps",
        "--patch", "--lr", "--checkpoint-every", "--patience", "--mixed-precision",
        "--model-preset", "--seed", "--val-split", "--resume", "--multi-worker",
    ):  # fmt: skip
        assert flag in proc.stdout, flag


def test_commands_do_not_print_tensorflow_start_up_chatter(test_model, tmp_path):
    """Without TF_CPP_MIN_LOG_LEVEL, TensorFlow's C++ logs (CUDA probe errors on a machine
    without a GPU, absl's "before InitializeLog" line) read like failures: the trainer hides
    them unless the user asks for them."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "evaluate", "--model", str(test_model),
         "--synthetic", "2", "--patch", "32", "--sheets", "0", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "samples" in proc.stdout  # it ran the model (and so set up TensorFlow's devices)
    assert "cuInit" not in proc.stderr and "absl::InitializeLog" not in proc.stderr
    assert not re.search(r"^[IWEF]\d{4} ", proc.stderr, re.M), proc.stderr[-3000:]


def test_parser_defaults():
    p = build_parser()
    a = p.parse_args(["train", "--data", "d1", "--data", "d2", "--out", "r"])
    assert a.data == ["d1", "d2"] and a.lr == 1e-3 and a.patch == 424 and a.batch_size == 4
    assert a.mixed_precision is None and a.model_preset == "default"
    assert p.parse_args(["train", "--out", "r", "--mixed-precision"]).mixed_precision == "float16"
    b = p.parse_args(["train", "--out", "r", "--mixed-precision", "bfloat16"])
    assert b.mixed_precision == "bfloat16"
    f = p.parse_args(["fine-tune", "--data", "s", "--out", "r"])
    assert f.lr == 1e-4 and f.epochs == 20 and f.base == "models/sketch-unet.keras"
    assert not f.freeze_encoder
    with pytest.raises(SystemExit):
        p.parse_args(["train", "--out", "r", "--resume", "--no-resume"])
    with pytest.raises(SystemExit):
        p.parse_args(["fine-tune", "--out", "r"])  # --data is required
    synth = p.parse_args(["synth", "--out", "d", "--processes", "2"])
    assert synth.processes == 2 and synth.func is synth_cli.run


def test_data_loaders_are_threads_or_processes():
    p = build_parser()
    auto = _train_config(p.parse_args(["train", "--out", "r"]))
    assert (auto.workers, auto.use_multiprocessing) == (0, False)  # 0: min(4, CPUs) threads
    threads = _train_config(p.parse_args(["train", "--out", "r", "--loader-threads", "2"]))
    assert (threads.workers, threads.use_multiprocessing) == (2, False)
    args = p.parse_args(["fine-tune", "--data", "d", "--out", "r", "--loader-processes", "3"])
    processes = _train_config(args, init_from=args.base)
    assert (processes.workers, processes.use_multiprocessing) == (3, True)
    with pytest.raises(SystemExit):
        p.parse_args(["train", "--out", "r", "--loader-threads", "2", "--loader-processes", "2"])
    for old_flag in ("--workers", "--multiprocessing"):
        with pytest.raises(SystemExit):
            p.parse_args(["train", "--out", "r", old_flag, "2"])


def test_fine_tune_export_evaluate_chain(trained_run, pair_folder, tmp_path):
    """fine-tune (frozen encoder, gradient accumulation, mixed float16) -> export -> evaluate."""
    base = trained_run[0].run_dir / "final.keras"
    run = tmp_path / "ft"
    rc = main(
        ["fine-tune", "--data", str(pair_folder), "--base", str(base), "--out", str(run),
         "--epochs", "1", "--patch", "32", "--batch-size", "2", "--accum-steps", "2",
         "--mixed-precision", "--freeze-encoder", "--loader-threads", "1", "--verbose", "0",
         "--no-tensorboard"]
    )  # fmt: skip
    assert rc == 0
    assert keras.config.dtype_policy().name == "float32"  # global policy restored
    run_json = json.loads((run / "run.json").read_text())
    assert run_json["config"]["init_from"] == str(base) and run_json["config"]["lr"] == 1e-4
    assert run_json["config"]["freeze_encoder"] is True
    # 11 training pairs (1 held out) / batch 2 -> 5 batches -> 2 accumulated updates
    assert json.loads((run / "summary.json").read_text())["steps"] == 5 // 2

    tuned = keras.saving.load_model(run / "final.keras", compile=False)
    before = keras.saving.load_model(base, compile=False)
    assert tuned.get_layer("enc1_conv1").compute_dtype == "float16"
    assert tuned.get_layer("output").compute_dtype == "float32"
    for name in ("enc1_conv1", "enc2_bn1", "enc3_conv1"):
        for a, b in zip(tuned.get_layer(name).get_weights(),
                        before.get_layer(name).get_weights(), strict=True):  # fmt: skip
            np.testing.assert_array_equal(a, b)  # frozen, BN statistics included
    dec_now = tuned.get_layer("dec3_conv1").get_weights()[0]
    assert not np.array_equal(dec_now, before.get_layer("dec3_conv1").get_weights()[0])

    model = tmp_path / "models" / "studio.keras"
    assert main(["export", "--checkpoint", str(run / "final.keras"), "--out", str(model)]) == 0
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["name"] == "studio" and card["training"]["epochs"] == 1
    assert card["working_scale"]["patch"] == 32
    exported = keras.saving.load_model(model, compile=False)
    assert {ly.dtype_policy.name for ly in exported.layers} == {"float32"}  # not mixed
    ev = tmp_path / "eval"
    rc = main(
        ["evaluate", "--model", str(model), "--data", str(pair_folder), "--out", str(ev),
         "--patch", "32", "--run", str(run), "--sheets", "1"]
    )  # fmt: skip
    assert rc == 0
    assert json.loads((ev / "metrics.json").read_text())["samples"] == 12
    assert (ev / "curves.png").exists() and (ev / "sheets" / "sheet-000.png").exists()


def test_trainer_synth_subcommand_writes_pairs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainer",
            "synth",
            "--out",
            str(tmp_path),
            "-n",
            "2",
            "--size",
            "64",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "input").iterdir()) == ["00000.png", "00001.png"]
    assert len(list((tmp_path / "target").iterdir())) == 2
