"""Vector report: does the SVG draw what the raster result shows? Written into docs/quality.md.

    python -m trainer.vector_report                       # examples/ and held-out synthetic roughs
    python -m trainer.vector_report --real ../shared/data/real --per-category 4

Every sketch goes through the shipped model with the backend pipeline (default options, black
on white) to its raster result; the result's lines are traced (backend.vector, centre lines
and outlines), the SVG is drawn at canvas size by resvg (an independent renderer, resvg-py)
and compared with the raster by the 1 px tolerant F-score (trainer.line_metrics). Sheets for
the real sketches (raster, SVG, SVG paths in random colours) go to docs/images/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from trainer.line_metrics import tolerant_scores
from trainer.quality_report import HELD_OUT_SEED, ROOT, model_method, real_sketches

SECTION = "## Vector output (SVG)"
TARGET = 0.95  # F-score at 1 px that every sketch must reach


def render(svg: str, width: int, height: int, background="#ffffff") -> np.ndarray:
    """The SVG drawn by resvg at its own size, BGR."""
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_string=svg, background=background, skip_system_fonts=True)
    image = cv2.imdecode(np.frombuffer(bytes(png), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "resvg gave no image"
    assert image.shape[:2] == (height, width), image.shape
    return image


def confetti(svg: str, seed: int = 0) -> str:
    """The same SVG with every path in its own random colour: fragments show up."""
    rng = np.random.default_rng(seed)

    def paint(match):
        b, g, r = (int(v) for v in rng.integers(0, 200, 3))
        return f'{match.group(1)}="#{r:02x}{g:02x}{b:02x}"'

    return re.sub(r'(stroke|fill)="#[0-9a-fA-F]{6}"', paint, svg)


def measure(result: np.ndarray) -> tuple[dict, dict[str, str]]:
    """Trace one raster result both ways and compare each rendered SVG with it."""
    from backend.vector import to_svg, trace_centrelines, trace_outlines

    h, w = result.shape
    lines = result < 128
    row: dict = {"size": f"{w}×{h}"}
    svgs = {}
    for mode, trace in (("centreline", trace_centrelines), ("outline", trace_outlines)):
        started = time.perf_counter()
        items = trace(lines)
        seconds = time.perf_counter() - started
        svg = to_svg(items, w, h)
        drawn = render(svg, w, h).min(axis=2) < 0.75 * 255  # line_metrics.INK_LEVEL
        scores = tolerant_scores(drawn, lines, 1.0 / max(h, w))
        row[mode] = {
            "paths": len(items),
            "filled": sum(hasattr(item, "loops") for item in items),  # Shapes (filled paths)
            "bytes": len(svg.encode()),
            "seconds": round(seconds, 4),
            **{k: round(v, 4) for k, v in scores.items()},
        }
        svgs[mode] = svg
    return row, svgs


def labelled(image: np.ndarray, label: str, height: int) -> np.ndarray:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    scale = height / image.shape[0]
    size = (round(image.shape[1] * scale), height)
    tile = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    tile = cv2.copyMakeBorder(tile, 28, 4, 4, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(tile, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def sheet(name, gray, result, svgs, path: Path, height: int = 420) -> None:
    """Input, raster result, rendered centre-line SVG, its paths in random colours, and the
    outline SVG; the SVGs are drawn at the sheet's scale, not blown-up pixels."""
    h, w = result.shape
    zoom = height / h

    def at_sheet_scale(svg: str) -> np.ndarray:
        big = svg.replace(
            f'width="{w}" height="{h}"', f'width="{round(w * zoom)}" height="{height}"'
        )
        return render(big, round(w * zoom), height)

    columns = [
        labelled(gray, f"input: {name}", height),
        labelled(result, "raster result (PNG)", height),
        labelled(at_sheet_scale(svgs["centreline"]), "SVG centre lines", height),
        labelled(at_sheet_scale(confetti(svgs["centreline"])), "SVG paths, random colours", height),
        labelled(at_sheet_scale(svgs["outline"]), "SVG outlines", height),
    ]
    cv2.imwrite(str(path), np.hstack(columns))


def synthetic(run, per_category: int, size: int) -> dict:
    from trainer.synth.pairs import CATEGORIES, make_pair, pair_rng

    rows = {}
    for number, category in enumerate((*CATEGORIES, None)):
        name = category or "mixed"
        for index in range(per_category):
            rough, _ = make_pair(pair_rng(HELD_OUT_SEED + number, index), size, category)
            rows[f"{name} #{index}"], _ = measure(run(rough))
            print(f"\r{name}: {index + 1}/{per_category}   ", end="", flush=True)
    print()
    return rows


def table(rows: dict, first: str) -> list[str]:
    out = [
        f"| {first} | size | centre lines: F1 @1 px | paths | filled | SVG KB | trace s "
        "| outlines: F1 @1 px | paths | SVG KB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        c, o = r["centreline"], r["outline"]
        flag = "" if c["f1"] >= TARGET else " ✗"
        out.append(
            f"| {name} | {r['size']} | {c['f1']:.3f}{flag} | {c['paths']} | {c['filled']} | "
            f"{c['bytes'] / 1024:.1f} | {c['seconds']:.2f} | {o['f1']:.3f} | {o['paths']} | "
            f"{o['bytes'] / 1024:.1f} |"
        )
    return out


def section(meta: dict, reals: dict, synth: dict) -> str:
    worst = min(r["centreline"]["f1"] for r in [*reals.values(), *synth.values()])
    lines = [
        SECTION,
        "",
        f"Made by `python -m trainer.vector_report` on {meta['date']} ({meta['seconds']:.0f} s). "
        "Each sketch is cleaned by the shipped model through the backend pipeline (default "
        "options, black on white); its raster result is traced (docs/vector.md; *filled*: "
        "how many of the centre-line paths are solid blobs drawn as filled shapes), the SVG is "
        "drawn at canvas size by resvg (an independent renderer) and compared with the raster: "
        "**F1 @1 px** is the tolerant F-score with a 1 px tolerance, ink below 0.75 gray. "
        f"Every sketch must reach {TARGET}: worst centre-line F1 here **{worst:.3f}**"
        + (" (all pass)." if worst >= TARGET else " (✗ marks a miss)."),
        "",
        "### Real sketches",
        "",
        *table(reals, "sketch"),
        "",
    ]
    for name in reals:
        lines += [f"![{name} as SVG](images/vector_{Path(name).stem}.png)", ""]
    lines += [
        f"### Held-out synthetic roughs ({meta['per_category']} × {meta['size']}² per kind, "
        f"seeds {HELD_OUT_SEED}+)",
        "",
        *table(synth, "rough"),
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    """Put the section into the report, replacing an older one (up to the next `## `)."""
    old = path.read_text() if path.exists() else "# Quality report\n"
    start = old.find(SECTION)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        after = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + (old[after + 1 :] if after >= 0 else "")
    path.write_text(new.rstrip("\n") + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "sketch-unet.keras")
    parser.add_argument("--runtime", default="auto", help="backend runtime (%(default)s)")
    parser.add_argument(
        "--real", type=Path, action="append", help="folder of real sketches (default: examples/)"
    )
    parser.add_argument("--per-category", type=int, default=4, help="held-out pairs per kind")
    parser.add_argument("--size", type=int, default=512, help="synthetic pair size")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "quality.md")
    parser.add_argument("--images", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    _, run = model_method(args.model, args.runtime)
    from backend.vector import trace_centrelines

    trace_centrelines(np.eye(16, dtype=bool))  # numba compiles once: not in the timings
    started = time.perf_counter()
    reals = {}
    for name, gray in real_sketches(args.real or [ROOT / "examples"]):
        result = run(gray)
        reals[name], svgs = measure(result)
        sheet(name, gray, result, svgs, args.images / f"vector_{Path(name).stem}.png")
        print(f"{name}: {reals[name]['centreline']}")
    synth = synthetic(run, args.per_category, args.size)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "seconds": time.perf_counter() - started,
        "model": args.model.name,
        "per_category": args.per_category,
        "size": args.size,
    }
    write_section(args.out, section(meta, reals, synth))
    record = {"meta": meta, "real": reals, "synthetic": synth}
    json_path = args.out.with_name("vector_quality.json")
    json_path.write_text(json.dumps(record, indent=2))
    misses = [n for n, r in {**reals, **synth}.items() if r["centreline"]["f1"] < TARGET]
    print(f"wrote {args.out} ({SECTION}) and {json_path}; below {TARGET}: {misses or 'none'}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
