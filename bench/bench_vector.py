"""Vector tracing speed against the network, on the same cleaned canvas, in one run.

    python bench/bench_vector.py                       # 1024² and 4096², shipped model
    python bench/bench_vector.py --sizes 4096 --runtime openvino --json out.json

The canvas is a mosaic of held-out synthetic roughs (trainer.synth, 512² each, every kind of
rough in turn), so a 4096² page holds 64 drawings. For each size:
  network:     the network pass as the pipeline runs it (scale 1, tiled), on the CPU;
  centreline:  backend.vector.trace_centrelines on the pipeline's raster result;
  outline:     backend.vector.trace_outlines (VTracer) on the same result;
  potracer:    the pure-Python potrace port, for comparison (if installed; up to 1024²);
  svg:         writing each SVG (to_svg), and its size.
Times are medians of --repeats runs after a warm-up (numba compiles skan's and our kernels
on first use; that one-off cost is reported as `first call`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from backend import defaults  # noqa: E402
from sketch_kit import protocol as proto  # noqa: E402

TILE = 512
POTRACER_MAX_SIDE = 1024  # pure Python: minutes beyond this
OPTIONS = proto.CleanOptions(style="white", output_format="gray8", scale=1.0)


def mosaic(side: int) -> np.ndarray:
    """A side² page of held-out synthetic roughs, TILE² each."""
    from trainer.quality_report import HELD_OUT_SEED
    from trainer.synth.pairs import CATEGORIES, make_pair, pair_rng

    page = np.empty((side, side), np.uint8)
    k = 0
    for y in range(0, side, TILE):
        for x in range(0, side, TILE):
            category = CATEGORIES[k % len(CATEGORIES)]
            rough, _ = make_pair(pair_rng(HELD_OUT_SEED + 50, k), TILE, category)
            page[y : y + TILE, x : x + TILE] = rough[: side - y, : side - x]
            k += 1
    return page


def timed(func, repeats: int) -> tuple[float, Any]:
    """(median seconds of `repeats` runs, the last result)."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def bench_size(side: int, cleaner, repeats: int) -> dict:
    from backend.vector import to_svg, trace_centrelines, trace_outlines

    gray = mosaic(side)
    net_s, _ = timed(lambda: cleaner.network_output(gray, 1.0), repeats)
    result, _ = cleaner.clean(gray.tobytes(), side, side, "gray8", OPTIONS)
    lines = np.frombuffer(result, np.uint8).reshape(side, side) < 128
    row: dict[str, Any] = {
        "size": side,
        "ink": round(float(lines.mean()), 4),
        "network": {"seconds": net_s},
    }
    methods = {"centreline": trace_centrelines, "outline": trace_outlines}
    try:
        import potrace  # potracer

        if side <= POTRACER_MAX_SIDE:
            methods["potracer"] = lambda m: potrace.Bitmap(m).trace()
    except ImportError:
        pass
    for name, trace in methods.items():
        seconds, items = timed(lambda trace=trace: trace(lines), repeats)
        row[name] = {"seconds": seconds, "paths": len(items)}
        if name != "potracer":
            svg_s, svg = timed(lambda items=items: to_svg(items, side, side), repeats)
            row[name] |= {"svg_seconds": svg_s, "svg_bytes": len(svg.encode())}
        row[name]["over_network"] = round(seconds / net_s, 3)
    print(f"  {side}²: network {net_s:.2f} s, centre lines {row['centreline']['seconds']:.2f} s")
    return row


def print_table(rows, meta) -> None:
    print(f"\nVector tracing vs network ({meta['runtime']}, {meta['cpu_count']} CPUs)")
    head = (
        f"{'input':>6} {'ink':>5} | {'network s':>9} | {'method':<10} {'trace s':>8} "
        f"{'/network':>8} {'paths':>7} | {'svg s':>6} {'svg MB':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        for name in ("centreline", "outline", "potracer"):
            if name not in r:
                continue
            m = r[name]
            svg = (
                f"{m['svg_seconds']:>6.2f} {m['svg_bytes'] / 2**20:>7.2f}"
                if "svg_bytes" in m
                else f"{'-':>6} {'-':>7}"
            )
            print(
                f"{r['size']:>5}² {r['ink']:>5.3f} | {r['network']['seconds']:>9.2f} | "
                f"{name:<10} {m['seconds']:>8.2f} {m['over_network']:>8.3f} {m['paths']:>7} | {svg}"
            )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="a .keras file (default: the shipped model)")
    parser.add_argument("--runtime", choices=defaults.RUNTIMES, default="openvino")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size (4096²: 1)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "vector-cpu.json")
    args = parser.parse_args(argv)

    from backend.model import default_model_path, load
    from backend.pipeline import Cleaner
    from backend.vector import trace_centrelines

    started = time.perf_counter()
    trace_centrelines(np.eye(16, dtype=bool))  # numba: compile or load the kernels once
    first_call = time.perf_counter() - started
    print(f"first call (numba compiling / loading kernels): {first_call:.2f} s")
    model_path = Path(args.model) if args.model else default_model_path()
    cleaner = Cleaner(load(model_path, args.runtime))
    rows = []
    for side in args.sizes:
        rows.append(bench_size(side, cleaner, args.repeats if side < 4096 else 1))
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "runtime": cleaner.model.runtime_name,
        "model": model_path.name,
        "first_call_seconds": round(first_call, 2),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "canvas": f"mosaic of {TILE}² held-out synthetic roughs, cleaned at scale 1",
    }
    print_table(rows, meta)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
