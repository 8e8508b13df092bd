"""The sketch-cleanup U-Net (Keras 3 API only, so it runs under TensorFlow, JAX or PyTorch).

Conventions shared with the backend (do not change without bumping the model card format):

* input: one grayscale channel, float32 in [0, 1], paper = 1 (white), ink = 0, normalised by
  the image maximum (``x / max(x)``); height and width divisible by ``2 ** levels`` (8);
* output: one channel, sigmoid, same polarity (1 = paper, 0 = line), computed in float32 even
  under a mixed-precision policy.

Only built-in layers are used, so ``keras.saving.load_model(path, compile=False)`` loads an
exported model without importing this package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
from keras import layers

__all__ = [
    "UNetConfig",
    "PRESETS",
    "build_unet",
    "get_config",
    "input_multiple",
    "encoder_layer_names",
    "cast_model_to_float32",
    "count_layers",
    "infer_config",
]


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    """Widths and depths of the U-Net.

    ``widths[i]`` / ``depths[i]`` describe encoder level ``i`` (``i < len(widths) - 1``), the
    last entry is the bottleneck. ``decoder_depths[j]`` is the number of 3x3 convolutions of
    decoder level ``j`` (deepest first), which works at ``widths[-2 - j]`` filters and is joined
    to encoder level ``len(widths) - 2 - j`` by a skip connection.
    """

    widths: tuple[int, ...] = (32, 64, 128, 256)
    depths: tuple[int, ...] = (4, 6, 9, 9)
    decoder_depths: tuple[int, ...] = (8, 5, 3)
    head_width: int | None = None  # filters of the 3x3 conv before the 1x1 output (widths[0])
    upsample_kernel: int = 2  # Conv2DTranspose kernel (stride 2)
    bn_momentum: float = 0.99  # BatchNormalization moving-average momentum

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "decoder_depths", tuple(int(d) for d in self.decoder_depths))
        if len(self.widths) < 2:
            raise ValueError("a U-Net needs at least one encoder level and a bottleneck")
        if len(self.depths) != len(self.widths):
            raise ValueError(f"depths {self.depths} must have one entry per width {self.widths}")
        if len(self.decoder_depths) != len(self.widths) - 1:
            raise ValueError(
                f"decoder_depths {self.decoder_depths} must have {len(self.widths) - 1} entries"
            )
        if min(self.widths + self.depths + self.decoder_depths) < 1:
            raise ValueError("widths and depths must be positive")

    @property
    def levels(self) -> int:
        """Number of 2x downsamplings."""
        return len(self.widths) - 1

    @property
    def multiple(self) -> int:
        """Input height and width must be divisible by this."""
        return 2**self.levels

    def to_dict(self) -> dict[str, Any]:
        return {
            "widths": list(self.widths),
            "depths": list(self.depths),
            "decoder_depths": list(self.decoder_depths),
            "head_width": self.head_width,
            "upsample_kernel": self.upsample_kernel,
            "bn_momentum": self.bn_momentum,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UNetConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown UNetConfig fields: {sorted(unknown)}")
        return cls(**dict(d))


PRESETS: dict[str, UNetConfig] = {
    "default": UNetConfig(),
    # About 0.7M parameters: experiments on a CPU or a small GPU.
    "small": UNetConfig(widths=(16, 32, 64, 128), depths=(2, 3, 3, 3), decoder_depths=(3, 2, 2)),
    # About 23k parameters, for tests and smoke runs on a CPU (faster BN statistics, so that
    # a few steps already show in inference mode).
    "tiny": UNetConfig(
        widths=(8, 16, 16, 32), depths=(1, 1, 1, 1), decoder_depths=(1, 1, 1), bn_momentum=0.9
    ),
}


def get_config(config: UNetConfig | Mapping[str, Any] | str | None = None) -> UNetConfig:
    """Normalise ``None`` / preset name / dict / UNetConfig to a UNetConfig."""
    if config is None:
        return PRESETS["default"]
    if isinstance(config, UNetConfig):
        return config
    if isinstance(config, str):
        try:
            return PRESETS[config]
        except KeyError:
            raise ValueError(f"unknown preset {config!r}; choose from {sorted(PRESETS)}") from None
    if isinstance(config, Mapping):
        return UNetConfig.from_dict(config)
    raise TypeError(f"cannot make a UNetConfig from {type(config).__name__}")


def input_multiple(config: UNetConfig | Mapping[str, Any] | str | None = None) -> int:
    return get_config(config).multiple


def _conv_block(x, filters: int, depth: int, prefix: str, momentum: float = 0.99):
    for i in range(1, depth + 1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}_conv{i}")(x)
        x = layers.BatchNormalization(momentum=momentum, name=f"{prefix}_bn{i}")(x)
        x = layers.ReLU(name=f"{prefix}_relu{i}")(x)
    return x


def build_unet(
    config: UNetConfig | Mapping[str, Any] | str | None = None, name: str = "sketch_unet"
) -> keras.Model:
    """Build the fully convolutional U-Net; input and output shape ``(None, None, 1)``.

    Layer names: ``enc{l}_conv{i}`` (encoder level l = 1..), ``bottleneck_conv{i}``,
    ``dec{j}_up`` / ``dec{j}_concat`` / ``dec{j}_conv{i}`` (decoder level j = 1.., deepest
    first), ``head_conv1`` and ``output``.
    """
    cfg = get_config(config)
    inputs = keras.Input(shape=(None, None, 1), name="sketch")
    x = inputs
    skips = []
    mom = cfg.bn_momentum
    for level in range(cfg.levels):
        x = _conv_block(x, cfg.widths[level], cfg.depths[level], f"enc{level + 1}", mom)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level + 1}_pool")(x)
    x = _conv_block(x, cfg.widths[-1], cfg.depths[-1], "bottleneck", mom)
    for j in range(cfg.levels):
        level = cfg.levels - 1 - j  # encoder level joined by this decoder level (0-based)
        filters = cfg.widths[level]
        p = f"dec{j + 1}"
        x = layers.Conv2DTranspose(
            filters, cfg.upsample_kernel, strides=2, padding="same", use_bias=False, name=f"{p}_up"
        )(x)
        x = layers.BatchNormalization(momentum=mom, name=f"{p}_up_bn")(x)
        x = layers.ReLU(name=f"{p}_up_relu")(x)
        x = layers.Concatenate(name=f"{p}_concat")([x, skips[level]])
        x = _conv_block(x, filters, cfg.decoder_depths[j], p, mom)
    x = _conv_block(x, cfg.head_width or cfg.widths[0], 1, "head", mom)
    # The output layer runs in float32 whatever the global dtype policy is, so the sigmoid (and
    # the loss) never see float16.
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def encoder_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers that belong to the encoder (frozen by ``--freeze-encoder``)."""
    return [layer.name for layer in model.layers if layer.name.startswith("enc")]


def count_layers(model: keras.Model, prefix: str, kind: type[layers.Layer] = layers.Conv2D) -> int:
    """Number of layers of exactly type ``kind`` whose name starts with ``prefix + '_'``."""
    return sum(
        1 for layer in model.layers if type(layer) is kind and layer.name.startswith(prefix + "_")
    )


def infer_config(model: keras.Model) -> UNetConfig:
    """Recover the :class:`UNetConfig` of a model built by :func:`build_unet` from its layers."""
    names = {layer.name: layer for layer in model.layers}
    levels = 0
    while f"enc{levels + 1}_conv1" in names:
        levels += 1
    if levels == 0 or "bottleneck_conv1" not in names or "output" not in names:
        raise ValueError(f"model {model.name!r} is not a U-Net built by trainer.model.build_unet")
    widths = [names[f"enc{i}_conv1"].filters for i in range(1, levels + 1)]
    widths.append(names["bottleneck_conv1"].filters)
    depths = [count_layers(model, f"enc{i}") for i in range(1, levels + 1)]
    depths.append(count_layers(model, "bottleneck"))
    decoder_depths = [count_layers(model, f"dec{j}") for j in range(1, levels + 1)]
    head_width = names["head_conv1"].filters
    return UNetConfig(
        widths=tuple(widths),
        depths=tuple(depths),
        decoder_depths=tuple(decoder_depths),
        head_width=None if head_width == widths[0] else head_width,
        upsample_kernel=int(names["dec1_up"].kernel_size[0]),
        bn_momentum=float(names["enc1_bn1"].momentum),
    )


def cast_model_to_float32(model: keras.Model, config: UNetConfig | None = None) -> keras.Model:
    """A float32 copy of ``model`` (e.g. one trained under a mixed-precision policy).

    Layers built under ``mixed_float16`` keep that policy in their saved config, so a model
    saved as is would compute in float16 wherever it is loaded; the backend wants float32.
    """
    config = config or infer_config(model)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        clone = build_unet(config, name=model.name)
    finally:
        keras.config.set_dtype_policy(previous)
    clone.set_weights([np.asarray(w, dtype=np.float32) for w in model.get_weights()])
    return clone
