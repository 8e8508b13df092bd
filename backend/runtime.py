"""Where the network runs: Keras itself, or the same model converted to OpenVINO.

On a CPU, OpenVINO runs this U-Net about twice as fast as TensorFlow, close to the cores'
fp32 peak; on a GPU, Keras (TensorFlow, JAX or PyTorch) is the fast path. Both take and
give (N, H, W) float32 batches, paper = 1, H and W multiples of the network's stride.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from backend import defaults


class RuntimeUnavailable(RuntimeError):
    """The asked-for runtime is not installed or cannot run this model."""


class Runtime(Protocol):
    """What the pipeline needs of a way to run the network."""

    name: str
    bucket: int
    device: str

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


class KerasRuntime:
    name = "keras"
    bucket = 64  # pad whole-frame shapes to this: every new shape retraces or recompiles

    def __init__(self, keras_model, device: str):
        self.keras_model = keras_model
        self.device = device

    def predict(self, batch: np.ndarray) -> np.ndarray:
        out = self.keras_model.predict_on_batch(batch[..., None])
        return np.asarray(out, dtype=np.float32)[..., 0]


class OpenVINORuntime:
    """The Keras model converted in memory (`openvino.convert_model`) and compiled once for
    the CPU with dynamic height and width, so any tile shape runs without recompiling.

    The precision is explicit: on CPUs with AVX512-BF16 OpenVINO would otherwise infer in
    bfloat16, which is about twice as fast but moves outputs by up to 0.03; plain `openvino`
    is fp32 (matches Keras within 1e-6), `openvino-bf16` asks for bfloat16 and refuses to
    start on a CPU without it. LATENCY hint: one stream using every core, which is what one
    job at a time wants.
    """

    bucket = 8  # dynamic shapes: pad only to the network's stride

    def __init__(
        self, keras_model, precision: str = "f32", ir: Path | None = None, threads: int = 0
    ):
        try:
            import openvino as ov
        except ImportError as exc:
            raise RuntimeUnavailable(
                "OpenVINO is not installed: `pip install openvino`, or use --runtime keras"
            ) from exc
        import warnings

        core = ov.Core()
        if ir is not None:  # an int8 copy made by trainer.quantize
            ov_model = core.read_model(ir)
        else:
            with warnings.catch_warnings():  # Keras warns about the input structure
                warnings.simplefilter("ignore", UserWarning)
                ov_model = ov.convert_model(keras_model)
        if precision == "bf16" and "BF16" not in core.get_property(
            "CPU", "OPTIMIZATION_CAPABILITIES"
        ):
            raise RuntimeUnavailable(
                "this CPU has no bfloat16 support (AVX512-BF16 or AMX): use --runtime openvino"
            )
        # int8 layers run in int8; what was left in floating point runs in fp32
        hint = "f32" if precision == "int8" else precision
        config: dict[str, str | int] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": hint,
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.name = "openvino" if precision == "f32" else f"openvino-{precision}"
        self.precision = precision
        self.compiled = core.compile_model(ov_model, "CPU", config)
        self.request = self.compiled.create_infer_request()
        cpu = core.get_property("CPU", "FULL_DEVICE_NAME")
        version = ov.get_version().split("-")[0]
        computed = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        computed = "int8" if precision == "int8" else computed  # what the CPU really runs
        self.device = f"openvino {version} CPU ({cpu}) {computed}"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch[..., None], dtype=np.float32)
        out = self.request.infer({0: x})[0]
        return np.asarray(out, dtype=np.float32)[..., 0]


def is_gpu(keras_device: str) -> bool:
    """Whether model.describe_device()'s text names a GPU."""
    return "GPU" in keras_device.upper() or "CUDA" in keras_device.upper()


def resolve(name: str, keras_device: str) -> str:
    """`auto` → openvino on a CPU when it is installed, keras on a GPU or without it."""
    if name not in defaults.RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}: one of {', '.join(defaults.RUNTIMES)}")
    if name != "auto":
        return name
    if is_gpu(keras_device):
        return "keras"
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "keras"
    return "openvino"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def int8_paths(model_path: Path) -> tuple[Path, Path]:
    """Where trainer.quantize puts a model's int8 copy: <stem>-int8.xml (+ .bin) and the
    .json that names the file it was made from."""
    model_path = Path(model_path)
    stem = model_path.with_name(model_path.stem + "-int8")
    return stem.with_suffix(".xml"), stem.with_suffix(".json")


def _int8_ir(model_path: Path | None) -> Path:
    """The model's int8 copy, if there is one made from this very file."""
    if model_path is None:
        raise RuntimeUnavailable("openvino-int8 needs the model's file path")
    xml, card = int8_paths(model_path)
    if not xml.exists() or not card.exists():
        raise RuntimeUnavailable(
            f"no int8 copy of {Path(model_path).name} ({xml.name}): make one with "
            "`python -m trainer.quantize --model MODEL`, or use --runtime openvino"
        )
    if json.loads(card.read_text()).get("source_sha256") != sha256(model_path):
        raise RuntimeUnavailable(
            f"{xml.name} was made from another model file: run `python -m trainer.quantize` "
            "again, or use --runtime openvino"
        )
    return xml


def create(name: str, keras_model, keras_device: str, model_path: Path | None = None):
    """A runtime object for `name` (after `resolve`)."""
    chosen = resolve(name, keras_device)
    if chosen == "openvino" and name == "auto":
        try:
            return OpenVINORuntime(keras_model)
        except Exception as exc:  # e.g. a Keras backend OpenVINO cannot convert from
            logging.getLogger("backend").warning(
                "OpenVINO could not take the model (%s): running it with Keras", exc
            )
            return KerasRuntime(keras_model, keras_device)
    if chosen == "openvino":
        return OpenVINORuntime(keras_model)
    if chosen == "openvino-bf16":
        return OpenVINORuntime(keras_model, precision="bf16")
    if chosen == "openvino-int8":
        return OpenVINORuntime(keras_model, precision="int8", ir=_int8_ir(model_path))
    return KerasRuntime(keras_model, keras_device)
