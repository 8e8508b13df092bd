"""Runtimes: the same real Keras model run by Keras and by OpenVINO gives the same output."""

import numpy as np
import pytest

from backend import model as model_module
from backend import runtime
from backend.pipeline import Cleaner, Settings
from tests.support import fixtures

pytest.importorskip("openvino")

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def unet_path(tmp_path_factory):
    return fixtures.save_test_model(tmp_path_factory.mktemp("unet"), unet=True)


@pytest.fixture(scope="module")
def both(unet_path):
    return {name: model_module.load(unet_path, name) for name in ("keras", "openvino")}


def batch_of_drawings(n, height, width):
    return np.stack(
        [fixtures.drawing(height, width, seed=i).astype(np.float32) / 255 for i in range(n)]
    )


@pytest.mark.parametrize("shape", [(1, 64, 96), (2, 136, 200), (1, 328, 248)])
def test_openvino_matches_keras_on_a_small_unet(both, shape):
    batch = batch_of_drawings(*shape)
    ours = both["openvino"].predict(batch)
    reference = both["keras"].predict(batch)
    assert ours.shape == reference.shape == shape and ours.dtype == np.float32
    assert np.abs(ours - reference).max() < TOLERANCE
    assert reference.std() > 0.01  # the model does something, so agreement means something


def test_openvino_matches_keras_on_the_threshold_model(test_model):
    batch = batch_of_drawings(2, 120, 160)
    ours = model_module.load(test_model, "openvino").predict(batch)
    reference = model_module.load(test_model, "keras").predict(batch)
    assert np.abs(ours - reference).max() < TOLERANCE


def test_whole_pipeline_output_matches_between_runtimes(both):
    gray = fixtures.drawing(700, 1300, seed=5).astype(np.float32) / 255
    outputs = {}
    for name, loaded in both.items():
        cleaner = Cleaner(loaded, Settings(tile=512, overlap=32))
        outputs[name], done = cleaner.network_output(gray.copy(), scale_option=1.0)
        assert done["tiles"] > 1
    assert np.abs(outputs["openvino"] - outputs["keras"]).max() < TOLERANCE


def test_models_report_their_runtime_and_device(both):
    assert both["keras"].runtime_name == "keras" and "CPU" in both["keras"].device
    assert both["openvino"].runtime_name == "openvino"
    assert both["openvino"].device.startswith("openvino") and "CPU" in both["openvino"].device


def test_auto_is_openvino_on_a_cpu_and_keras_on_a_gpu():
    assert runtime.resolve("auto", "tensorflow CPU") == "openvino"
    assert runtime.resolve("auto", "tensorflow /device:GPU:0") == "keras"
    assert runtime.resolve("auto", "torch cuda:0 NVIDIA H200") == "keras"
    assert runtime.resolve("keras", "tensorflow CPU") == "keras"
    with pytest.raises(ValueError, match="unknown runtime"):
        runtime.resolve("tensorrt", "tensorflow CPU")


def test_bf16_fast_mode_is_close_or_refused(unet_path, both):
    import openvino as ov

    has_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if not has_bf16:
        with pytest.raises(runtime.RuntimeUnavailable, match="bfloat16"):
            model_module.load(unet_path, "openvino-bf16")
        return
    fast = model_module.load(unet_path, "openvino-bf16")
    assert fast.runtime_name == "openvino-bf16" and fast.device.endswith("bf16")
    batch = batch_of_drawings(1, 136, 200)
    difference = np.abs(fast.predict(batch) - both["keras"].predict(batch))
    assert 0 < difference.max() < 0.1  # bfloat16 has 8 bits of mantissa: close, not equal


def test_int8_fast_mode_needs_a_copy_made_from_this_model(tmp_path):
    pytest.importorskip("nncf")
    from trainer import quantize

    path = fixtures.save_test_model(tmp_path, unet=True)
    with pytest.raises(runtime.RuntimeUnavailable, match="trainer.quantize"):
        model_module.load(path, "openvino-int8")
    quantize.quantize(path, samples=6, size=64, preset="mixed")
    fast = model_module.load(path, "openvino-int8")
    reference = model_module.load(path, "keras")
    assert fast.runtime_name == "openvino-int8" and fast.device.endswith("int8")
    batch = batch_of_drawings(1, 96, 128)
    difference = np.abs(fast.predict(batch) - reference.predict(batch))
    assert difference.mean() < 0.05, difference.mean()  # int8: close on average
    fixtures.build_small_unet(seed=1).save(path)  # the model changes; its int8 copy does not
    with pytest.raises(runtime.RuntimeUnavailable, match="another model"):
        model_module.load(path, "openvino-int8")
