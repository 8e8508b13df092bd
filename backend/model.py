"""Load the U-Net (.keras file plus its JSON model card) and run it on batches of tiles.

Only public Keras 3 APIs are used, so this runs under TensorFlow, JAX or PyTorch. The
trainer is never imported: the model file must load with built-in layers alone. The
network then runs on the runtime chosen in backend/runtime.py (Keras or OpenVINO).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backend import defaults
from backend import runtime as runtimes

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL_NAME = "sketch-unet.keras"  # the full U-Net: the default on a GPU
# The small U-Net scores as well on held-out roughs for 1/8 of the arithmetic
# (docs/training.md), so a CPU, where that is seconds per page, starts with it.
CPU_MODEL_NAME = "sketch-unet-small.keras"


def default_model_path() -> Path:
    """SKETCH_CLEANUP_MODEL (a model file, or a models folder), else models/ beside the
    package; in a folder, sketch-unet-small on a CPU when it is there, else sketch-unet."""
    chosen = Path(os.environ.get("SKETCH_CLEANUP_MODEL", MODELS_DIR))
    if chosen.suffix == ".keras":
        return chosen
    small = chosen / CPU_MODEL_NAME
    if small.exists() and not on_gpu():
        return small
    return chosen / DEFAULT_MODEL_NAME


def on_gpu() -> bool:
    """Whether Keras computes on a GPU here (what runtime `auto` also goes by)."""
    return runtimes.is_gpu(describe_device())


def read_card(model_path: Path) -> dict:
    card_path = model_path.with_suffix(".json")
    if not card_path.exists():
        return {"name": model_path.stem, "note": "no model card found beside the model"}
    return json.loads(card_path.read_text())


def describe_device() -> str:
    """Human-readable device the Keras backend in use computes on."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return f"tensorflow {gpus[0].name}" if gpus else "tensorflow CPU"
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        kind = getattr(device, "device_kind", "")
        return f"jax {device.platform.upper()}:{device.id} {kind}".strip()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"torch cuda:0 {torch.cuda.get_device_name(0)}"
        return "torch CPU"
    return backend


def _auto_stroke_width(card: dict) -> float | None:
    """The stroke width (backend's estimate) auto scale brings an incoming sketch to.

    `auto_stroke_width_px` is what the card says auto scale should aim at: since card
    version 3 the training inputs' stroke width (the network then reads strokes like those
    it learned from; line weight is set afterwards). Older cards without it give the inputs'
    width or the targets' width by another measure.
    """
    scale = card.get("working_scale", {})
    return (
        scale.get("auto_stroke_width_px")
        or scale.get("input_stroke_width_px")
        or scale.get("stroke_width_px")
    )


@dataclass
class LoadedModel:
    """A Keras model, the runtime that runs it, and what the pipeline needs to know."""

    keras_model: Any
    card: dict
    path: str
    runtime: runtimes.Runtime
    device: str = ""
    multiple: int = 8
    stroke_width_px: float | None = None
    info: dict = field(default_factory=dict)

    @property
    def runtime_name(self) -> str:
        return self.runtime.name

    @property
    def bucket(self) -> int:
        """Whole-frame shapes are padded to this (the runtime's cost of a new shape)."""
        return max(self.multiple, self.runtime.bucket)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, H, W) float32 paper=1 → (N, H, W) float32 paper=1, H and W multiples of 8."""
        return self.runtime.predict(batch)


def load(
    path: str | os.PathLike | None = None, runtime_name: str = defaults.RUNTIME
) -> LoadedModel:
    """Load the model and its card, and prepare it on `runtime_name` (see backend/runtime.py).

    Raises FileNotFoundError for a missing file and runtimes.RuntimeUnavailable when the
    runtime asked for cannot run.
    """
    import keras

    model_path = Path(path) if path else default_model_path()
    if not model_path.exists():
        raise FileNotFoundError(
            f"model file {model_path} not found: run `python3 install.py` or pass --model"
        )
    keras_model = keras.saving.load_model(model_path, compile=False)
    card = read_card(model_path)
    keras_device = describe_device()
    chosen = runtimes.create(runtime_name, keras_model, keras_device, model_path)
    return LoadedModel(
        keras_model=keras_model,
        card=card,
        path=str(model_path),
        device=chosen.device,
        runtime=chosen,
        multiple=int(card.get("input", {}).get("multiple", 8)),
        stroke_width_px=_auto_stroke_width(card),
    )
