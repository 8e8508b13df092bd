"""U-Net structure: layer counts per stage, shapes, configs, mixed precision."""

import keras
import numpy as np
import pytest

from trainer.model import (
    PRESETS,
    UNetConfig,
    build_unet,
    cast_model_to_float32,
    count_layers,
    encoder_layer_names,
    infer_config,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def default_model():
    return build_unet()


def test_default_config_is_the_original_design():
    cfg = UNetConfig()
    assert cfg.widths == (32, 64, 128, 256)
    assert cfg.depths == (4, 6, 9, 9)
    assert cfg.decoder_depths == (8, 5, 3)
    assert cfg.multiple == 8


def test_default_model_conv_counts_and_filters(default_model):
    m = default_model
    conv = keras.layers.Conv2D
    expected = {
        "enc1": (4, 32),
        "enc2": (6, 64),
        "enc3": (9, 128),
        "bottleneck": (9, 256),
        "dec1": (8, 128),
        "dec2": (5, 64),
        "dec3": (3, 32),
        "head": (1, 32),
    }
    for prefix, (n, filters) in expected.items():
        assert count_layers(m, prefix) == n, prefix
        convs = [ly for ly in m.layers if type(ly) is conv and ly.name.startswith(prefix + "_")]
        assert {ly.filters for ly in convs} == {filters}, prefix
        assert all(ly.kernel_size == (3, 3) for ly in convs)
        # every 3x3 conv is followed by BN + ReLU
        assert count_layers(m, prefix, keras.layers.BatchNormalization) >= n
    assert count_layers(m, "dec", keras.layers.Conv2DTranspose) == 0  # prefix needs a digit
    ups = [ly for ly in m.layers if isinstance(ly, keras.layers.Conv2DTranspose)]
    assert [ly.filters for ly in ups] == [128, 64, 32]
    assert all(ly.strides == (2, 2) for ly in ups)
    pools = [ly for ly in m.layers if isinstance(ly, keras.layers.MaxPooling2D)]
    assert len(pools) == 3
    out = m.get_layer("output")
    assert out.filters == 1 and out.kernel_size == (1, 1)
    assert out.activation.__name__ == "sigmoid"
    total_conv = sum(1 for ly in m.layers if type(ly) is conv)
    assert total_conv == 4 + 6 + 9 + 9 + 8 + 5 + 3 + 1 + 1


def test_skip_connections_are_symmetric(default_model):
    m = default_model
    for j, level in ((1, 3), (2, 2), (3, 1)):
        concat = m.get_layer(f"dec{j}_concat")
        sources = {t._keras_history.operation.name for t in concat.input}
        assert f"enc{level}_relu{UNetConfig().depths[level - 1]}" in sources, (j, sources)


def test_default_model_output_shape_equals_input_shape(default_model):
    assert default_model.input_shape == (None, None, None, 1)
    assert default_model.compute_output_shape((1, 424, 424, 1)) == (1, 424, 424, 1)
    y = default_model.predict_on_batch(np.ones((1, 64, 48, 1), np.float32))
    assert y.shape == (1, 64, 48, 1) and 0 <= y.min() and y.max() <= 1


def test_infer_config_roundtrip(default_model):
    assert infer_config(default_model) == PRESETS["default"]
    tiny = build_unet("tiny")
    assert infer_config(tiny) == PRESETS["tiny"]
    custom = UNetConfig(widths=(4, 8, 16), depths=(2, 1, 3), decoder_depths=(2, 1), head_width=6)
    assert infer_config(build_unet(custom)) == custom


def test_config_validation_and_presets():
    with pytest.raises(ValueError):
        UNetConfig(widths=(8, 16), depths=(1,), decoder_depths=(1,))
    with pytest.raises(ValueError):
        UNetConfig(widths=(8, 16), depths=(1, 1), decoder_depths=(1, 1))
    with pytest.raises(ValueError):
        build_unet("huge")
    assert UNetConfig.from_dict(PRESETS["tiny"].to_dict()) == PRESETS["tiny"]
    assert build_unet({"widths": [4, 8], "depths": [1, 1], "decoder_depths": [1]}).count_params()


def test_only_builtin_layers_so_load_needs_no_custom_objects(tmp_path):
    m = build_unet("tiny")
    m.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    assert {type(ly).__module__.split(".")[0] for ly in again.layers} == {"keras"}


def test_mixed_precision_keeps_output_float32_and_cast_back():
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        m = build_unet("tiny")
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert m.get_layer("enc1_conv1").compute_dtype == "float16"
    assert m.get_layer("output").compute_dtype == "float32"
    x = np.random.default_rng(0).random((1, 32, 32, 1)).astype(np.float32)
    y = m.predict_on_batch(x)
    assert y.dtype == np.float32
    f32 = cast_model_to_float32(m)
    assert {ly.dtype_policy.name for ly in f32.layers} == {"float32"}
    np.testing.assert_allclose(f32.predict_on_batch(x), y, atol=2e-3)


def test_encoder_layer_names():
    names = encoder_layer_names(build_unet("tiny"))
    assert "enc1_conv1" in names and "enc3_pool" in names
    assert not any(n.startswith(("dec", "bottleneck", "head", "output")) for n in names)
