"""Quality report: the shipped model against thresholding baselines, written to docs/quality.md.

    python -m trainer.quality_report                       # models/sketch-unet.keras
    python -m trainer.quality_report --model run/best.keras --pairs 60

Held-out synthetic pairs (seeds never used in training) have ground truth; the real sketches
in ../shared/data/real do not, except the clean line drawing, which is its own ground truth
(a model should leave clean input essentially unchanged). Measures:

* the rough-sketch cleanup benchmark's: a pixel is ink below 0.75 gray; a predicted ink pixel
  is correct if a ground-truth ink pixel lies within d = 0.2 %, 0.4 % and 1 % of the long
  edge, and vice versa for recall;
* the trainer's pixel metrics: accuracy, IoU, precision, recall, F1 (exact pixels).

Every method goes through the same decode/encode path: the model through the backend's real
pipeline (default options, black on white), the baselines through OpenCV.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
INK_LEVEL = 0.75
TOLERANCES = (0.002, 0.004, 0.01)
HELD_OUT_SEED = 900_001  # training uses small seeds; this one is reserved for evaluation


def ink(gray01: np.ndarray) -> np.ndarray:
    return gray01 < INK_LEVEL


def tolerant_scores(pred_ink: np.ndarray, true_ink: np.ndarray, fraction: float) -> dict:
    """Precision/recall/F1 where a pixel within d = fraction × long edge counts as a hit."""
    d = fraction * max(pred_ink.shape)

    def near(mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.zeros_like(mask)
        distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
        return distance <= d

    precision = float(near(true_ink)[pred_ink].mean()) if pred_ink.any() else 0.0
    recall = float(near(pred_ink)[true_ink].mean()) if true_ink.any() else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def pixel_scores(pred_ink: np.ndarray, true_ink: np.ndarray) -> dict:
    tp = float(np.sum(pred_ink & true_ink))
    fp = float(np.sum(pred_ink & ~true_ink))
    fn = float(np.sum(~pred_ink & true_ink))
    tn = float(np.sum(~pred_ink & ~true_ink))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "accuracy": (tp + tn) / pred_ink.size,
        "iou": tp / (tp + fp + fn) if tp + fp + fn else 1.0,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def all_scores(pred_ink: np.ndarray, true_ink: np.ndarray) -> dict:
    scores = {f"f1@{t:.1%}": tolerant_scores(pred_ink, true_ink, t) for t in TOLERANCES}
    return {"tolerant": scores, "pixel": pixel_scores(pred_ink, true_ink)}


# ------------------------------------------------------------------ methods


def otsu(gray8: np.ndarray) -> np.ndarray:
    _, out = cv2.threshold(gray8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return out


def adaptive(gray8: np.ndarray) -> np.ndarray:
    block = max(15, (max(gray8.shape) // 40) | 1)
    return cv2.adaptiveThreshold(
        gray8, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 10
    )


def model_method(model_path: Path):
    import sketch_client as proto
    from backend.model import load
    from backend.pipeline import Cleaner

    cleaner = Cleaner(load(model_path))
    options = {**proto.DEFAULT_OPTIONS, "style": "white", "output_format": "gray8"}

    def run(gray8: np.ndarray) -> np.ndarray:
        h, w = gray8.shape
        out, info = cleaner.clean(gray8.tobytes(), w, h, "gray8", options)
        run.last = info  # the scale auto chose and the seconds it took
        return np.frombuffer(out, np.uint8).reshape(h, w)

    return cleaner, run


# ------------------------------------------------------------------ report


def mean_scores(rows: list[dict]) -> dict:
    def average(key_path):
        values = []
        for row in rows:
            value = row
            for key in key_path:
                value = value[key]
            values.append(value)
        return float(np.mean(values))

    first = rows[0]
    out = {"tolerant": {}, "pixel": {}}
    for tol, scores in first["tolerant"].items():
        out["tolerant"][tol] = {k: average(("tolerant", tol, k)) for k in scores}
    out["pixel"] = {k: average(("pixel", k)) for k in first["pixel"]}
    return out


def sheet(columns: list[tuple[str, np.ndarray]], height: int = 360) -> np.ndarray:
    tiles = []
    for label, image in columns:
        scale = height / image.shape[0]
        tile = cv2.resize(
            image, (round(image.shape[1] * scale), height), interpolation=cv2.INTER_AREA
        )
        tile = cv2.copyMakeBorder(tile, 28, 4, 4, 4, cv2.BORDER_CONSTANT, value=255)
        cv2.putText(tile, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1, cv2.LINE_AA)
        tiles.append(tile)
    return np.hstack(tiles)


def table(results: dict, title: str) -> list[str]:
    tols = list(next(iter(results.values()))["tolerant"])
    head = "| method | " + " | ".join(f"P / R / F1 @ {t.split('@')[1]}" for t in tols)
    head += " | accuracy | IoU | precision | recall | F1 |"
    lines = [f"### {title}", "", head, "|---" * (len(tols) + 6) + "|"]
    for method, scores in results.items():
        cells = [
            "{precision:.3f} / {recall:.3f} / **{f1:.3f}**".format(**scores["tolerant"][t])
            for t in tols
        ]
        p = scores["pixel"]
        cells += [f"{p[k]:.3f}" for k in ("accuracy", "iou", "precision", "recall", "f1")]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "sketch-unet.keras")
    parser.add_argument("--pairs", type=int, default=40, help="held-out synthetic pairs")
    parser.add_argument("--size", type=int, default=512, help="synthetic pair size")
    parser.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "quality.md")
    parser.add_argument("--images", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    from backend.autoscale import estimate_stroke_width
    from trainer.synth import make_pair, pair_rng

    cleaner, model_run = model_method(args.model)
    methods = {
        "Sketch Cleanup model": model_run,
        "Otsu threshold": otsu,
        "adaptive threshold": adaptive,
    }
    rows = {name: [] for name in methods}
    examples = []
    started = time.perf_counter()
    for index in range(args.pairs):
        rough, clean = make_pair(pair_rng(HELD_OUT_SEED, index), args.size)
        truth = ink(clean.astype(np.float32) / 255)
        outputs = {}
        for name, method in methods.items():
            out = method(rough)
            outputs[name] = out
            rows[name].append(all_scores(ink(out.astype(np.float32) / 255), truth))
        if index < 3:
            examples.append(
                sheet(
                    [
                        ("rough (synthetic)", rough),
                        ("model", outputs["Sketch Cleanup model"]),
                        ("Otsu", outputs["Otsu threshold"]),
                        ("adaptive", outputs["adaptive threshold"]),
                        ("ground truth", clean),
                    ],
                    300,
                )
            )
        print(f"\rheld-out pair {index + 1}/{args.pairs}", end="", flush=True)
    print()
    synthetic = {name: mean_scores(r) for name, r in rows.items()}
    args.images.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.images / "quality_synthetic.png"), np.vstack(examples))

    real = {}
    real_sheets = []
    for path in sorted(args.real.glob("*.png")):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        outputs = {name: method(gray) for name, method in methods.items()}
        real_sheets.append(
            (
                path.name,
                sheet(
                    [
                        ("input: " + path.name, gray),
                        ("model", outputs["Sketch Cleanup model"]),
                        ("Otsu", outputs["Otsu threshold"]),
                        ("adaptive", outputs["adaptive threshold"]),
                    ]
                ),
            )
        )
        gray01 = gray.astype(np.float32) / 255
        if "clean" in path.name:  # clean line art: its own ground truth
            truth = ink(gray01)
            real[path.name] = {
                n: all_scores(ink(o.astype(np.float32) / 255), truth) for n, o in outputs.items()
            }
        model01 = outputs["Sketch Cleanup model"].astype(np.float32) / 255
        real.setdefault("sketches", {})[path.name] = {
            "input": float(ink(gray01).mean()),
            "model": float(ink(model01).mean()),
            "stroke_width_input": estimate_stroke_width(gray01),
            "stroke_width_model": estimate_stroke_width(model01),
            "scale": model_run.last["scale"],
            "seconds": model_run.last["seconds"],
            "size": f"{gray.shape[1]}×{gray.shape[0]}",
        }
    for name, image in real_sheets:
        cv2.imwrite(str(args.images / f"quality_real_{Path(name).stem}.png"), image)

    seconds = time.perf_counter() - started
    card = cleaner.model.card
    lines = [
        "# Quality report",
        "",
        f"Made by `python -m trainer.quality_report` on {time.strftime('%Y-%m-%d')} "
        f"({seconds:.0f} s on {cleaner.model.device}). Model: `{args.model.name}` "
        f"({card.get('name', '?')} v{card.get('version', '?')}, "
        f"{cleaner.model.keras_model.count_params():,} parameters); backend default "
        "options (Otsu threshold, auto scale).",
        "",
        "Scores: precision / recall / **F1** where a pixel is ink below 0.75 gray and a "
        "prediction within d (a fraction of the long edge) of a ground-truth ink pixel counts "
        "as correct, and vice versa (the rough-sketch cleanup benchmark's measure); then exact "
        "pixel accuracy, IoU, precision, recall and F1 of the ink class (the trainer's "
        "metrics).",
        "",
        *table(
            synthetic,
            f"Held-out synthetic pairs ({args.pairs} × {args.size}², seed "
            f"{HELD_OUT_SEED}, never trained on)",
        ),
        "![synthetic examples](images/quality_synthetic.png)",
        "",
    ]
    for name, scores in real.items():
        if name != "sketches":
            lines += table(
                scores, f"Clean line art `{name}` as its own ground truth (should stay unchanged)"
            )
    lines += [
        "### Real sketches (the rough ones have no ground truth)",
        "",
        "| sketch | size | ink fraction in → out | stroke width in → out (px) | auto scale "
        "| CPU s |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in real["sketches"].items():
        lines.append(
            f"| {name} | {r['size']} | {r['input']:.3f} → {r['model']:.3f} | "
            f"{r['stroke_width_input'] or 0:.2f} → {r['stroke_width_model'] or 0:.2f} | "
            f"×{r['scale']:g} | {r['seconds']:.2f} |"
        )
    lines += [
        "",
        "Stroke width: the backend's estimate (2 × ink area / ink outline, Otsu), the one auto "
        "scale uses. Auto scale brings the sketch's strokes to the width of the lines the "
        "model was trained to draw.",
    ]
    lines.append("")
    for name, _ in real_sheets:
        lines += [f"![{name}](images/quality_real_{Path(name).stem}.png)", ""]
    lines += [
        "Real sketches: David Revoy, CC BY 4.0 (www.davidrevoy.com); the clean line "
        "drawing is public domain (see ../shared/data/real/ATTRIBUTION.md).",
        "",
    ]
    args.out.write_text("\n".join(lines))
    (args.out.with_suffix(".json")).write_text(
        json.dumps(
            {
                "synthetic": synthetic,
                "real": real,
                "pairs": args.pairs,
                "size": args.size,
                "model": str(args.model),
                "device": cleaner.model.device,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
