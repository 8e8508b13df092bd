"""Where the network runs: Keras itself, or the same model converted to OpenVINO.

On a CPU, OpenVINO runs this U-Net about twice as fast as TensorFlow, close to the cores'
fp32 peak; on a GPU, Keras (TensorFlow, JAX or PyTorch) is the fast path. Both take and
give (N, H, W) float32 batches, paper = 1, H and W multiples of the network's stride.
"""

from __future__ import annotations

import numpy as np

from backend import defaults


class RuntimeUnavailable(RuntimeError):
    """The asked-for runtime is not installed or cannot run this model."""


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

    fp32 is forced: on CPUs with AVX512-BF16 OpenVINO would otherwise infer in bfloat16,
    which moves outputs by up to 0.03. LATENCY hint: one stream using every core, which is
    what one job at a time wants.
    """

    name = "openvino"
    bucket = 8  # dynamic shapes: pad only to the network's stride

    def __init__(self, keras_model, threads: int = 0):
        try:
            import openvino as ov
        except ImportError as exc:
            raise RuntimeUnavailable(
                "OpenVINO is not installed: `pip install openvino`, or use --runtime keras"
            ) from exc
        import warnings

        with warnings.catch_warnings():  # Keras warns about the input structure while tracing
            warnings.simplefilter("ignore", UserWarning)
            ov_model = ov.convert_model(keras_model)
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        self.compiled = core.compile_model(ov_model, "CPU", config)
        self.request = self.compiled.create_infer_request()
        cpu = core.get_property("CPU", "FULL_DEVICE_NAME")
        self.device = f"openvino {ov.get_version().split('-')[0]} CPU ({cpu})"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch[..., None], dtype=np.float32)
        out = self.request.infer({0: x})[0]
        return np.asarray(out, dtype=np.float32)[..., 0]


def resolve(name: str, keras_device: str) -> str:
    """`auto` → openvino on a CPU when it is installed, keras on a GPU or without it."""
    if name not in defaults.RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}: one of {', '.join(defaults.RUNTIMES)}")
    if name != "auto":
        return name
    if "GPU" in keras_device.upper() or "CUDA" in keras_device.upper():
        return "keras"
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "keras"
    return "openvino"


def create(name: str, keras_model, keras_device: str):
    """A runtime object for `name` (after `resolve`)."""
    chosen = resolve(name, keras_device)
    if chosen == "openvino":
        return OpenVINORuntime(keras_model)
    return KerasRuntime(keras_model, keras_device)
