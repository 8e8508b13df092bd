"""Backend throughput: images/s and megapixels/s, model-only and end-to-end over ZeroMQ.

    python bench/bench_backend.py                      # shipped model, 424² 1024² 4096²
    python bench/bench_backend.py --sizes 424 1024 --repeats 5 --json out.json

model-only: the network on the tiles alone (what a faster device or model changes);
pipeline:   decode, scale, tile, network, threshold, encode, in-process;
end-to-end: the same through a real backend process and socket, as an editor sees it.
With no trained model (or --untrained), the default U-Net with random weights is timed:
speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import sketch_client as proto  # noqa: E402
from tests import fixtures  # noqa: E402


def untrained_default_model(directory: Path) -> Path:
    from trainer.model import build_unet

    path = directory / "untrained-default.keras"
    build_unet().save(path)
    return path


def timed(func, repeats: int) -> float:
    """Median seconds of `repeats` runs after one warm-up run."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_size(side, cleaner, client, repeats) -> dict:
    from backend import tiling

    gray = fixtures.drawing(side, side, seed=side)
    payload = gray.tobytes()
    options = {**proto.DEFAULT_OPTIONS, "scale": 1.0, "output_format": "gray8"}
    s = cleaner.settings
    work = gray.astype(np.float32) / 255

    def model_only():
        tiling.run_tiled(
            work, cleaner.model.predict, s.tile, s.overlap, s.batch, cleaner.model.multiple
        )

    def pipeline():
        cleaner.clean(payload, side, side, "gray8", options)

    def end_to_end():
        client.clean(payload, side, side, "gray8", options, timeout=3600)

    row = {"size": side, "megapixels": side * side / 1e6}
    for name, func in (
        ("model_only", model_only),
        ("pipeline", pipeline),
        ("end_to_end", end_to_end),
    ):
        seconds = timed(func, repeats if side < 4096 else 1)
        row[name] = {
            "seconds": round(seconds, 4),
            "images_per_s": round(1 / seconds, 3),
            "megapixels_per_s": round(row["megapixels"] / seconds, 3),
        }
        print(f"  {side}² {name}: {seconds:.3f} s", flush=True)
    return row


def print_table(rows, device) -> None:
    print(f"\nSketch Cleanup backend benchmark on {device}")
    print(
        f"{'input':>8} | {'model-only img/s':>16} {'MP/s':>7} | {'pipeline img/s':>14} "
        f"{'MP/s':>7} | {'end-to-end img/s':>16} {'MP/s':>7} {'s/img':>7}"
    )
    for r in rows:
        m, p, e = r["model_only"], r["pipeline"], r["end_to_end"]
        print(
            f"{r['size']:>7}² | {m['images_per_s']:>16.3f} {m['megapixels_per_s']:>7.2f} | "
            f"{p['images_per_s']:>14.3f} {p['megapixels_per_s']:>7.2f} | "
            f"{e['images_per_s']:>16.3f} {e['megapixels_per_s']:>7.2f} {e['seconds']:>7.2f}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="a .keras file (default: the shipped model)")
    parser.add_argument(
        "--untrained", action="store_true", help="time the default architecture with random weights"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[424, 1024, 4096])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size (4096²: 1)")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument(
        "--json",
        type=Path,
        help="where to write the results (default: bench/results/backend-<backend>-<device>.json)",
    )
    args = parser.parse_args(argv)

    from backend.model import default_model_path, load
    from backend.pipeline import Cleaner, Settings

    tmp = Path(tempfile.mkdtemp(prefix="sketch-bench-"))
    model_path = Path(args.model) if args.model else default_model_path()
    if args.untrained or not model_path.exists():
        print("timing the default U-Net with random weights (no trained model given)")
        model_path = untrained_default_model(tmp)
    cleaner = Cleaner(load(model_path), Settings(tile=args.tile, batch=args.batch))
    endpoint = f"tcp://127.0.0.1:{fixtures.free_port()}"
    log = tmp / "backend.log"
    proc = fixtures.start_backend(
        [
            "serve",
            "--bind",
            endpoint,
            "--model",
            str(model_path),
            "--tile",
            str(args.tile),
            "--batch",
            str(args.batch),
        ],
        log,
    )
    try:
        fixtures.wait_ready(endpoint, proc, log, timeout=180)
        with proto.Client(endpoint, stall_timeout=600) as client:
            rows = [bench_size(side, cleaner, client, args.repeats) for side in args.sizes]
    finally:
        fixtures.stop(proc)
    device = cleaner.model.device
    print_table(rows, device)
    result = {
        "device": device,
        "model": str(model_path.name),
        "params": int(cleaner.model.keras_model.count_params()),
        "tile": args.tile,
        "batch": args.batch,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }
    out = args.json or ROOT / "bench" / "results" / (
        f"backend-{device.replace(' ', '-').replace(':', '').lower()}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
