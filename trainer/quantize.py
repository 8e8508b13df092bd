"""Int8 copy of a model for the backend's fast mode (`--runtime openvino-int8`).

    python -m trainer.quantize                         # models/sketch-unet.keras
    python -m trainer.quantize --model my.keras --samples 256

Post-training quantization with NNCF: the Keras model is converted to OpenVINO, run on
synthetic roughs (a calibration seed of its own: neither training's nor the quality
report's) to measure activation ranges, and written beside the model as
``<stem>-int8.xml/.bin`` with ``<stem>-int8.json`` recording the source file's SHA-256, so
the backend refuses a copy made from another model. Check it with
``python -m trainer.quality_report --runtime openvino-int8`` against ``--runtime openvino``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from trainer.quiet import import_keras_quietly

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION_SEED = 700_001


def calibration_inputs(count: int, size: int, seed: int = CALIBRATION_SEED) -> list[np.ndarray]:
    """(1, size, size, 1) float32 network inputs: synthetic roughs, normalized by their max
    as the backend does, every kind of rough in turn (faint scans and photos set activation
    ranges the training mix alone would leave out) and the training mix."""
    from trainer.synth.pairs import CATEGORIES, make_pair, pair_rng

    kinds = (*CATEGORIES, None)
    inputs = []
    for index in range(count):
        rough, _ = make_pair(pair_rng(seed, index), size, kinds[index % len(kinds)])
        gray = rough.astype(np.float32) / 255
        gray /= max(float(gray.max()), 1e-6)
        inputs.append(gray[None, ..., None])
        print(f"\rcalibration rough {index + 1}/{count}   ", end="", flush=True)
    print()
    return inputs


def end_convolutions(ov_model) -> list[str]:
    """Names of the first and last convolutions: the ones that read the sketch's gray levels
    and write the output, where 8 bits cost the most."""
    kinds = ("Convolution", "ConvolutionBackpropData")
    convs = [op for op in ov_model.get_ordered_ops() if op.get_type_name() in kinds]
    return [convs[0].get_friendly_name(), convs[-1].get_friendly_name()]


def quantize(
    model_path: Path, samples: int, size: int, preset: str, fp32_ends: bool = True
) -> Path:
    import keras
    import nncf
    import openvino as ov

    from backend.runtime import int8_paths, sha256

    keras_model = keras.saving.load_model(model_path, compile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ov_model = ov.convert_model(keras_model)
    inputs = calibration_inputs(samples, size)
    started = time.perf_counter()
    ignored = end_convolutions(ov_model) if fp32_ends else []
    quantized = nncf.quantize(
        ov_model,
        nncf.Dataset(inputs),
        subset_size=len(inputs),
        preset=getattr(nncf.QuantizationPreset, preset.upper()),
        ignored_scope=nncf.IgnoredScope(names=ignored),
    )
    xml, card = int8_paths(model_path)
    ov.save_model(quantized, xml, compress_to_fp16=False)
    card.write_text(
        json.dumps(
            {
                "source": model_path.name,
                "source_sha256": sha256(model_path),
                "calibration": {
                    "samples": samples,
                    "size": size,
                    "seed": CALIBRATION_SEED,
                    "data": "trainer.synth.pairs.make_pair roughs, every kind in turn",
                },
                "preset": preset,
                "fp32_ends": fp32_ends,
                "nncf": nncf.__version__,
                "openvino": ov.get_version(),
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
    )
    return xml


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "sketch-unet.keras")
    parser.add_argument("--samples", type=int, default=128, help="calibration roughs")
    parser.add_argument("--size", type=int, default=384, help="their side, px (%(default)s)")
    parser.add_argument(
        "--preset",
        choices=("performance", "mixed"),
        default="mixed",
        help="symmetric activations, or asymmetric ones for inputs in [0, 1] (%(default)s)",
    )
    parser.add_argument(
        "--int8-ends",
        action="store_true",
        help="quantize the first and last convolutions too (default: they stay fp32)",
    )
    args = parser.parse_args(argv)
    import_keras_quietly()
    xml = quantize(args.model, args.samples, args.size, args.preset, not args.int8_ends)
    print(f"wrote {xml} and {xml.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
