"""Export (model file + card) and evaluation reports, from a real trained tiny run."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from trainer.evaluate import evaluate
from trainer.export import export

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    run = trained_run[0].run_dir
    out = tmp_path_factory.mktemp("models") / "models" / "sketch-test.keras"
    card = export(run / "checkpoints" / "epoch-0003.keras", out, version="7")
    return out, card, run


def test_card_fields(exported):
    out, card, run = exported
    on_disk = json.loads(out.with_suffix(".json").read_text())
    assert on_disk == card
    assert card["name"] == "sketch-test" and card["version"] == "7" and card["card_format"] == 1
    arch = card["architecture"]
    assert arch["type"] == "unet"
    assert (arch["widths"], arch["depths"], arch["decoder_depths"]) == (
        [8, 16, 16, 32],
        [1, 1, 1, 1],
        [1, 1, 1],
    )
    assert arch["params"] == keras.saving.load_model(out, compile=False).count_params()
    assert card["input"] == {
        "channels": 1,
        "multiple": 8,
        "range": [0, 1],
        "polarity": "paper=1 ink=0",
        "normalize": "divide by max",
    }
    assert card["output"] == {"activation": "sigmoid", "polarity": "paper=1 ink=0"}
    run_json = json.loads((run / "run.json").read_text())
    assert card["working_scale"]["stroke_width_px"] == pytest.approx(run_json["stroke_width_px"])
    assert card["working_scale"]["patch"] == 64
    assert card["working_scale"]["input_stroke_width_px"] == run_json["input_stroke_width_px"]
    assert card["working_scale"]["auto_stroke_width_px"] == run_json["auto_stroke_width_px"]
    t = card["training"]
    assert (t["epochs"], t["steps"]) == (3, 15) and t["seconds"] > 0
    assert t["backend"] == "tensorflow" and "replica" in t["devices"] and "pairs" in t["data"]
    assert t["target_threshold"] == run_json["config"]["target_threshold"]
    assert t["loss_alpha"] == run_json["config"]["loss_alpha"] == 0.5
    assert {"iou", "f1", "precision", "recall", "pixel_accuracy", "pmi", "gmi"} <= set(
        card["metrics"]
    )
    assert card["licence"] and card["created"][:2] == "20"


def test_exported_model_loads_with_plain_keras_and_predicts(exported):
    """In a fresh interpreter that never imports the trainer package (as the backend does)."""
    out, _, _ = exported
    script = textwrap.dedent(
        f"""
        import sys, numpy as np, keras
        m = keras.saving.load_model({str(out)!r}, compile=False)
        assert not any(k == "trainer" or k.startswith("trainer.") for k in sys.modules)
        assert {{w.dtype for w in m.weights}} == {{"float32"}}, {{w.dtype for w in m.weights}}
        x = np.ones((1, 64, 64, 1), np.float32)
        x[0, 20:23, 5:60, 0] = 0.1
        y = m.predict_on_batch(x)
        assert y.shape == (1, 64, 64, 1) and y.dtype == np.float32, (y.shape, y.dtype)
        assert np.isfinite(y).all() and 0 <= y.min() and y.max() <= 1
        print("OK", float(y.mean()))
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd="/"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK" in proc.stdout


def test_float16_storage_is_smaller_and_runs_in_float32(exported, tmp_path):
    out32, _, run = exported
    out16 = tmp_path / "half.keras"
    card = export(run / "final.keras", out16, float16=True, stroke_width_px=2.5)
    assert card["working_scale"]["stroke_width_px"] == 2.5
    assert card["export"]["weights_storage"] == "float16"
    assert _weight_bytes(out16) == _weight_bytes(out32) // 2  # (the file also holds config)
    m16 = keras.saving.load_model(out16, compile=False)
    assert {w.dtype for w in m16.weights} == {"float32"}
    assert {ly.dtype_policy.name for ly in m16.layers} == {"float32"}
    ref = keras.saving.load_model(run / "final.keras", compile=False)
    x = np.random.default_rng(0).random((2, 32, 32, 1)).astype(np.float32)
    y16, y = m16.predict_on_batch(x), ref.predict_on_batch(x)
    assert y16.dtype == np.float32
    np.testing.assert_allclose(y16, y, atol=0.02)
    # float16 really is what is stored: the values are exactly representable in float16
    w = m16.get_layer("enc1_conv1").get_weights()[0]
    np.testing.assert_array_equal(w, w.astype(np.float16).astype(np.float32))


def _weight_bytes(path):
    """Bytes of weight data in a .keras file, checking all floats are of one dtype."""
    import io
    import zipfile

    import h5py

    total, dtypes = 0, set()
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as f:

        def visit(_, obj):
            nonlocal total
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                total += obj.size * obj.dtype.itemsize
                dtypes.add(obj.dtype.name)

        f.visititems(visit)
    assert len(dtypes) == 1, dtypes
    return total


def test_export_rejects_bad_output_name(exported, tmp_path):
    _, _, run = exported
    with pytest.raises(ValueError):
        export(run / "final.keras", tmp_path / "model.h5")


def test_evaluate_writes_metrics_sheets_and_curves(exported, pair_folder, tmp_path):
    out, _, run = exported
    res = evaluate(out, [pair_folder], tmp_path / "eval", patch=64, run_dir=run, sheets=2)
    data = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert data["samples"] == 12
    assert set(data["metrics"]) == {
        "pixel_accuracy",
        "iou",
        "precision",
        "recall",
        "f1",
        "pmi",
        "gmi",
        "loss",
    }
    assert all(0 <= v <= 1 for v in data["metrics"].values())
    assert len(data["per_image"]) == 12
    losses = [r["loss"] for r in data["per_image"]]
    assert losses == sorted(losses, reverse=True)  # worst first
    assert data["loss"] == pytest.approx(np.mean(losses), abs=1e-4)
    assert len(res["sheets"]) == 2
    sheet = cv2.imread(res["sheets"][0], cv2.IMREAD_GRAYSCALE)
    # 4 rows of 64 px + 3 gaps + an 18 px header; 3 columns of 64 px + 2 gaps
    assert sheet.shape == (18 + 4 * 64 + 3 * 4, 3 * 64 + 2 * 4)
    curves = cv2.imread(str(tmp_path / "eval" / "curves.png"))
    assert curves is not None and curves.shape[1] > 500
