"""Live preview: a region of a large canvas against the full clean, through a real backend.

    python bench/bench_preview.py                         # 512² regions of 2048² and 4096²
    python bench/bench_preview.py --tile 768 --json bench/results/preview-cpu-tile768.json

The editor sends the whole layer and asks for a `region` (docs/protocol.md, "Regions"); the
time is end to end, as an editor sees it. Per canvas: the full clean once, then 512² regions
where the backend's tile grid makes them cheapest and dearest (fewest and most tiles
touched), at the top-left corner, and at seeded random places, and the first random one
with `scale: auto` twice (it measures the stroke width on the whole layer; the backend
remembers a layer's measure, so the second preview skips it). Previews use the
full run's threshold level as a fixed threshold, so each is checked to be the full result's
crop byte for byte.

Timings depend on what else the CPU runs, so every timed run follows a reference run: a
1024² layer's full clean (one whole-frame pass) through the same backend. Each row gives
its median seconds, the median of run / reference, and that ratio times the reference's
time on a quiet machine (bench/results/backend-cpu.json, openvino 1024² end to end): an
estimate of the row's time there. The JSON keeps the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from bench_backend import sketch, start_server  # noqa: E402  (beside this file)

from backend import defaults, tiling  # noqa: E402
from sketch_kit.client import Client  # noqa: E402

REGION = 512
OPTIONS = {"style": "transparent", "scale": 1.0, "output_format": "gray8"}
REFERENCE = 1024  # px a side of the reference layer
QUIET = ROOT / "bench" / "results" / "backend-cpu.json"


def quiet_reference(runtime: str) -> float | None:
    """The reference layer's end-to-end seconds in bench_backend's run on a quiet CPU."""
    if not QUIET.exists():
        return None
    rows = json.loads(QUIET.read_text())["rows"]
    found = [r for r in rows if r["runtime"] == runtime and r["size"] == REFERENCE]
    return found[0]["end_to_end"]["seconds"] if found else None


def tiles_touched(layout: dict, x: int, y: int) -> int:
    """How many tiles of the full run's grid a REGION² box at (x, y) overlaps (scale 1)."""
    m = tiling.MARGIN
    th, tw = layout["tile"]
    rows = [s for s in layout["ys"] if s < y + REGION + m and s + th > y + m]
    cols = [s for s in layout["xs"] if s < x + REGION + m and s + tw > x + m]
    return len(rows) * len(cols)


def places(side: int, tile: int, overlap: int, bucket: int, count: int) -> dict[str, list[int]]:
    """Named [x, y] places of a REGION² box: cheapest, dearest, corner, random ones."""
    last = side - REGION
    m = tiling.MARGIN
    layout = tiling.plan(side + 2 * m, side + 2 * m, tile, overlap, 8, bucket)
    grid = [(x, y) for x in range(0, last + 1, 32) for y in range(0, last + 1, 32)]
    touched = {p: tiles_touched(layout, *p) for p in grid}
    cheapest = min(grid, key=lambda p: (touched[p], abs(p[0] - last / 2) + abs(p[1] - last / 2)))
    dearest = max(grid, key=lambda p: (touched[p], -abs(p[0] - last / 2) - abs(p[1] - last / 2)))
    rng = np.random.default_rng(0)
    named = {"fewest tiles": list(cheapest), "most tiles": list(dearest), "top-left": [0, 0]}
    for i in range(count):
        named[f"random {i + 1}"] = [int(v) for v in rng.integers(0, last + 1, 2)]
    return named


def timed_clean(client: Client, payload: bytes, side: int, options: dict, region=None):
    start = time.perf_counter()
    header, pixels = client.clean(
        payload, side, side, "gray8", options, timeout=3600, region=region
    )
    return time.perf_counter() - start, header, pixels


class Timer:
    """Times cleans, each after a reference clean, so that load on the CPU can be told."""

    def __init__(self, client: Client, quiet: float | None):
        self.client, self.quiet = client, quiet
        self.reference = sketch(REFERENCE).tobytes()

    def __call__(self, payload, side, options, region=None, repeats=1):
        seconds, ratios = [], []
        for _ in range(repeats):
            ref, _, _ = timed_clean(self.client, self.reference, REFERENCE, OPTIONS)
            took, header, pixels = timed_clean(self.client, payload, side, options, region)
            seconds.append(took)
            ratios.append(took / ref)
        ratio = float(np.median(ratios))
        row = {
            "seconds": round(float(np.median(seconds)), 3),
            "all_seconds": [round(t, 3) for t in seconds],
            "over_reference": round(ratio, 3),
            "quiet_estimate_s": None if self.quiet is None else round(ratio * self.quiet, 3),
            "tiles": header["tiles"],
        }
        return row, header, pixels


def bench_canvas(timer: Timer, side: int, args, bucket: int) -> dict:
    gray = sketch(side)
    payload = gray.tobytes()
    # untimed: the runtime meets the tile shapes once
    timed_clean(timer.client, payload, side, OPTIONS, [0, 0, 64, 64])
    full_row, full_header, full = timer(payload, side, OPTIONS)
    full_pixels = np.frombuffer(full, np.uint8).reshape(side, side)
    print(f"  {side}²: full clean {full_row['seconds']:.2f} s", flush=True)
    pinned = {**OPTIONS, "threshold": full_header["level"]}
    rows = []
    named = places(side, args.tile, args.overlap, bucket, args.random)
    runs = [(name, place, pinned, args.repeats) for name, place in named.items()]
    auto = {**pinned, "scale": "auto"}
    runs.append(("random 1, scale auto, first", named["random 1"], auto, 1))  # measures
    runs.append(("random 1, scale auto, again", named["random 1"], auto, args.repeats))
    for name, (x, y), options, repeats in runs:
        region = [x, y, REGION, REGION]
        row, header, pixels = timer(payload, side, options, region, repeats)
        crop = full_pixels[y : y + REGION, x : x + REGION]
        same = pixels == crop.tobytes() if options["scale"] == 1.0 else None
        row.update(place=name, region=region, exact=header["exact"], equals_crop=same)
        row["scale"] = options["scale"]
        rows.append(row)
        print(f"    {name:<28} {row['seconds']:6.2f} s  {row['tiles']} tiles", flush=True)
        assert same is not False, f"region {region} is not the crop of the full result"
    return {"size": side, "full": full_row, "regions": rows}


def table(result: dict) -> str:
    quiet = result["quiet_reference_s"]
    lines = [
        f"512² region preview vs full clean, {result['device']}, --tile {result['tile']} "
        f"--overlap {result['overlap']}, {result['cpu_count']} CPU cores, load average "
        f"{result['load_before']} before and {result['load_after']} after; {result['date']}. "
        f"x ref: the run's time over a {REFERENCE}² full clean's just before it; quiet: that "
        f"ratio x {quiet} s, the {REFERENCE}² clean on a quiet CPU (bench_backend).",
        "",
        "| canvas | what | seconds | x ref | quiet estimate | tiles | exact, equals the crop |",
        "|---|---|---|---|---|---|---|",
    ]

    def cells(r: dict) -> str:
        estimate = "-" if r["quiet_estimate_s"] is None else f"{r['quiet_estimate_s']:.2f} s"
        return f"{r['seconds']:.2f} | {r['over_reference']:.2f} | {estimate} | {r['tiles']}"

    for canvas in result["canvases"]:
        side = canvas["size"]
        lines.append(f"| {side}² | full clean | {cells(canvas['full'])} | - |")
        for r in canvas["regions"]:
            same = "-" if r["equals_crop"] is None else ("yes" if r["equals_crop"] else "NO")
            x, y = r["region"][:2]
            lines.append(
                f"| {side}² | region at ({x}, {y}), {r['place']} | {cells(r)} | "
                f"{'yes' if r['exact'] else 'no'}, {same} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="a .keras file (default: the shipped model)")
    parser.add_argument("--runtime", choices=defaults.RUNTIMES, default=defaults.RUNTIME)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--tile", type=int, default=defaults.TILE)
    parser.add_argument("--overlap", type=int, default=defaults.OVERLAP)
    parser.add_argument("--random", type=int, default=3, help="random places per canvas")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per region (median)")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "results" / "preview-cpu.json"
    )
    args = parser.parse_args(argv)

    from backend.model import default_model_path

    model = Path(args.model) if args.model else default_model_path()
    server_args = ["--model", str(model), "--runtime", args.runtime]
    server_args += ["--tile", str(args.tile), "--overlap", str(args.overlap)]
    load_before = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="sketch-preview-") as tmp:
        proc, endpoint, info = start_server(server_args, ROOT, Path(tmp) / "backend.log")
        bucket = 8 if info["runtime"].startswith("openvino") else 64
        print(f"{info['device']} ({info['runtime']})", flush=True)
        try:
            with Client(endpoint, stall_timeout=600) as client:
                timer = Timer(client, quiet_reference(info["runtime"]))
                canvases = [bench_canvas(timer, side, args, bucket) for side in args.sizes]
        finally:
            proc.terminate()
            proc.wait(30)
    result = {
        "device": info["device"],
        "runtime": info["runtime"],
        "model": model.name,
        "tile": args.tile,
        "overlap": args.overlap,
        "region": REGION,
        "options": OPTIONS,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "reference": REFERENCE,
        "quiet_reference_s": quiet_reference(info["runtime"]),
        "load_before": load_before,
        "load_after": [round(v, 2) for v in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "canvases": canvases,
    }
    text = table(result)
    print("\n" + text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    args.json.with_suffix(".md").write_text(text)
    print(f"wrote {args.json} and {args.json.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
