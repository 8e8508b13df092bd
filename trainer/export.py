"""Export a training checkpoint as the backend's model file and its JSON model card.

``export(checkpoint, "models/NAME.keras")`` writes:

* ``models/NAME.keras``: the U-Net in float32 (whatever policy it was trained under), without
  optimizer or loss, loadable with ``keras.saving.load_model(path, compile=False)`` and no
  import of this package. With ``float16=True`` the weights are *stored* as float16 (half the
  file size); Keras casts them back to the float32 variables on load, so the model still
  computes in float32;
* ``models/NAME.json``: the model card the backend reads (``input.multiple``,
  ``working_scale.stroke_width_px``), see docs/training.md.

The exported file is reloaded and run on a test input before the card is written: a file that
does not load, computes in another dtype or deviates from the checkpoint is an error.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np

from trainer.model import cast_model_to_float32, infer_config

__all__ = ["export", "model_card", "find_run_dir", "CARD_FORMAT"]

CARD_FORMAT = 1
DEFAULT_STROKE_WIDTH = 3.0
STROKE_WIDTH_METHOD = "2*median(L2 distance transform of line pixels on its ridge)"
INPUT_STROKE_WIDTH_METHOD = (
    "median over training inputs of the backend's estimate (2*ink area/ink outline of the "
    "paper-flattened sketch, Otsu)"
)
AUTO_STROKE_WIDTH_METHOD = (
    "the training inputs' width (input_stroke_width_px): auto scale brings an incoming "
    "sketch's strokes to it, so the network reads strokes like those it learned from; the "
    "line weight is set after the network (line_width)"
)
_WEIGHTS = "model.weights.h5"
_TRAINING_CORE = ("data", "epochs", "steps", "seconds", "backend", "devices")


def find_run_dir(checkpoint: str | os.PathLike) -> Path | None:
    """The run directory of a checkpoint (``RUN/final.keras``, ``RUN/checkpoints/x.keras``)."""
    p = Path(checkpoint).resolve()
    for d in (p.parent, p.parent.parent):
        if (d / "run.json").exists():
            return d
    return None


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _h5_to_float16(data: bytes) -> bytes:
    """A copy of an HDF5 weights file whose float32/float64 datasets are stored as float16."""
    import h5py

    src_buf, dst_buf = io.BytesIO(data), io.BytesIO()
    with h5py.File(src_buf, "r") as src, h5py.File(dst_buf, "w") as dst:

        def copy(s, d):
            for k, v in s.attrs.items():
                d.attrs[k] = v
            for name, item in s.items():
                if isinstance(item, h5py.Group):
                    copy(item, d.create_group(name))
                else:
                    arr = item[()]
                    if isinstance(arr, np.ndarray) and arr.dtype in (np.float32, np.float64):
                        arr = arr.astype(np.float16)
                    ds = d.create_dataset(name, data=arr)
                    for k, v in item.attrs.items():
                        ds.attrs[k] = v

        copy(src, dst)
    return dst_buf.getvalue()


def _rewrite_float16(path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.f16.keras")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w") as zout:
        names = zin.namelist()
        if _WEIGHTS not in names:
            raise ValueError(f"{path}: no {_WEIGHTS} inside (Keras changed its format?)")
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == _WEIGHTS:
                data = _h5_to_float16(data)
            zout.writestr(info, data)
    os.replace(tmp, path)


def _probe_input(size: int = 64) -> np.ndarray:
    """A fixed sketch-like test input: gray strokes on white paper."""
    img = np.full((size, size), 255, np.uint8)
    rng = np.random.default_rng(1234)
    for _ in range(6):
        p0, p1 = rng.integers(0, size, size=(2, 2))
        cv2.line(img, tuple(map(int, p0)), tuple(map(int, p1)), int(rng.integers(30, 160)), 2)
    x = img.astype(np.float32) / 255.0
    return (x / x.max())[None, ..., None]


def _verify(path: Path, reference: keras.Model, tolerance: float) -> float:
    loaded = keras.saving.load_model(path, compile=False)
    bad = [w.path for w in loaded.weights if keras.backend.standardize_dtype(w.dtype) != "float32"]
    if bad:
        raise RuntimeError(f"{path}: variables not float32 after loading: {bad[:5]}")
    policies = {layer.dtype_policy.name for layer in loaded.layers}
    if policies - {"float32"}:
        raise RuntimeError(f"{path}: layers compute in {sorted(policies)}, expected float32")
    x = _probe_input()
    got = np.asarray(keras.ops.convert_to_numpy(loaded.predict_on_batch(x)))
    want = np.asarray(keras.ops.convert_to_numpy(reference.predict_on_batch(x)))
    if got.shape != x.shape or got.dtype != np.float32 or not np.all(np.isfinite(got)):
        raise RuntimeError(f"{path}: bad output {got.shape} {got.dtype}")
    diff = float(np.max(np.abs(got - want)))
    if diff > tolerance:
        raise RuntimeError(f"{path}: output differs from the checkpoint by {diff} > {tolerance}")
    return diff


def model_card(
    model: keras.Model,
    *,
    name: str,
    version: str = "1",
    stroke_width_px: float = DEFAULT_STROKE_WIDTH,
    input_stroke_width_px: float | None = None,
    auto_stroke_width_px: float | None = None,
    patch: int = 424,
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    licence: str = "MIT",
    extra: Mapping[str, Any] | None = None,
) -> dict:
    """The card dictionary (schema: docs/training.md, "Model card")."""
    cfg = infer_config(model)
    t = dict(training or {})
    card: dict[str, Any] = {
        "name": name,
        "version": str(version),
        "card_format": CARD_FORMAT,
        "architecture": {
            "type": "unet",
            "widths": list(cfg.widths),
            "depths": list(cfg.depths),
            "decoder_depths": list(cfg.decoder_depths),
            "params": int(model.count_params()),
        },
        "input": {
            "channels": 1,
            "multiple": cfg.multiple,
            "range": [0, 1],
            "polarity": "paper=1 ink=0",
            "normalize": "divide by max",
        },
        "output": {"activation": "sigmoid", "polarity": "paper=1 ink=0"},
        "working_scale": {
            "stroke_width_px": round(float(stroke_width_px), 3),
            "patch": int(patch),
            "stroke_width_method": STROKE_WIDTH_METHOD,
            "input_stroke_width_px": None
            if input_stroke_width_px is None
            else round(float(input_stroke_width_px), 3),
            "input_stroke_width_method": INPUT_STROKE_WIDTH_METHOD,
        },
        "training": {
            "data": t.get("data", "unknown"),
            "epochs": int(t.get("epochs", 0)),
            "steps": int(t.get("steps", 0)),
            "seconds": round(float(t.get("seconds", 0.0)), 1),
            "backend": t.get("backend", keras.backend.backend()),
            "devices": t.get("devices", "unknown"),
            **{k: v for k, v in t.items() if k not in _TRAINING_CORE},
        },
        "metrics": dict(metrics or {}),
        "licence": licence,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if auto_stroke_width_px is not None:
        card["working_scale"]["auto_stroke_width_px"] = round(float(auto_stroke_width_px), 3)
        card["working_scale"]["auto_stroke_width_method"] = AUTO_STROKE_WIDTH_METHOD
    if extra:
        card.update(extra)
    return card


def export(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    float16: bool = False,
    run_dir: str | os.PathLike | None = None,
    name: str | None = None,
    version: str = "1",
    stroke_width_px: float | None = None,
    metrics: str | os.PathLike | Mapping[str, Any] | None = None,
    licence: str = "MIT",
) -> dict:
    """Write ``out`` (.keras) and ``out`` with suffix .json (card); returns the card."""
    out = Path(out)
    if out.suffix != ".keras":
        raise ValueError(f"the output must end in .keras, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    src = keras.saving.load_model(checkpoint, compile=False)
    model = cast_model_to_float32(src)

    run = Path(run_dir) if run_dir else find_run_dir(checkpoint)
    run_json = _read_json(run / "run.json") if run else {}
    summary = _read_json(run / "summary.json") if run else {}
    ckpt_state = _read_json(Path(checkpoint).with_suffix(".json"))
    if "epoch" not in ckpt_state:
        ckpt_state = {}

    if stroke_width_px is None:
        stroke_width_px = run_json.get("stroke_width_px")
    if stroke_width_px is None:
        print(
            f"warning: no stroke width recorded (run dir: {run}); using {DEFAULT_STROKE_WIDTH} px",
            flush=True,
        )
        stroke_width_px = DEFAULT_STROKE_WIDTH
    card_metrics: Mapping[str, Any] | None
    if isinstance(metrics, str | os.PathLike):
        loaded = json.loads(Path(metrics).read_text())
        card_metrics = loaded.get("metrics", loaded)
    else:
        card_metrics = metrics
    if card_metrics is None:
        card_metrics = summary.get("metrics", {})
    training = {
        "data": run_json.get("data", "unknown"),
        "epochs": ckpt_state.get("epoch", summary.get("epochs", 0)),
        "steps": ckpt_state.get("iterations", summary.get("steps", 0)),
        "seconds": ckpt_state.get("seconds", summary.get("seconds", 0.0)),
        "backend": run_json.get("backend", keras.backend.backend()),
        "devices": run_json.get("devices", "unknown"),
    }
    config = run_json.get("config", {})
    for key in ("init_from", "target_threshold", "loss_alpha", "batch_size", "lr"):
        if config.get(key) is not None:  # how this model differs from its base, if any
            training[key] = config[key]

    with tempfile.TemporaryDirectory(dir=out.parent) as tmpdir:
        tmp = Path(tmpdir) / out.name
        model.save(tmp)
        if float16:
            _rewrite_float16(tmp)
        diff = _verify(tmp, model, tolerance=5e-2 if float16 else 1e-5)
        shutil.move(str(tmp), out)

    card = model_card(
        model,
        name=name or out.stem,
        version=version,
        stroke_width_px=stroke_width_px,
        input_stroke_width_px=run_json.get("input_stroke_width_px"),
        auto_stroke_width_px=run_json.get("auto_stroke_width_px"),
        patch=int(run_json.get("patch", 424)),
        training=training,
        metrics=card_metrics,
        licence=licence,
        extra={
            "export": {
                "source": str(checkpoint),
                "weights_storage": "float16" if float16 else "float32",
                "max_abs_diff_vs_checkpoint": diff,
                "keras": keras.__version__,
            }
        },
    )
    card_path = out.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {card_path}", flush=True)
    return card
