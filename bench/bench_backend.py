"""Backend speed and memory, runtimes side by side in one run.

    python bench/bench_backend.py                            # keras and openvino, 424² 1024² 4096²
    python bench/bench_backend.py --runtime openvino --sizes 1024 --repeats 5 --json out.json
    python bench/bench_backend.py --baseline 47d05fa         # also the backend of that commit

For every runtime and size:
  network:    the network alone on the whole frame in one pass (the floor; up to 2048²);
  pipeline:   decode, scale, tile, network, threshold, encode, in-process;
  end-to-end: the same through a real backend process and socket, as an editor sees it,
              with that process's peak memory over its idle memory during the runs.
Achieved GFLOP/s = the model's FLOPs per pixel (counted from its convolutions) x pixels /
seconds; % of peak is against the CPU's fp32 peak (cores x clock x 32 FLOP per cycle: two
256-bit FMA pipes; --peak-gflops to give another). A --memory-side layer (8000²) is cleaned
once end to end per runtime to measure peak memory per input pixel.
With no trained model (or --untrained), the default U-Net with random weights is timed:
speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from backend import defaults  # noqa: E402
from sketch_kit import protocol as proto  # noqa: E402
from sketch_kit.client import Client  # noqa: E402
from sketch_kit.local import wait_until_ready  # noqa: E402

SKETCH = ROOT / "examples" / "revoy_witch_rough.png"  # a real pencil rough (CC BY 4.0)

NETWORK_MAX_SIDE = 2048  # the whole-frame network pass needs ~280 B/px: 4096² would be 5 GB
# sent over the wire: only options every backend version knows (a --baseline one too)
WIRE_OPTIONS = {"style": "transparent", "threshold": "otsu", "scale": 1.0, "output_format": "gray8"}
OPTIONS = proto.CleanOptions.from_wire(WIRE_OPTIONS)  # in-process: the typed options


def sketch(side: int) -> np.ndarray:
    """A side² gray8 canvas of real pencil strokes: the example rough, tiled."""
    gray = cv2.imread(str(SKETCH), cv2.IMREAD_GRAYSCALE)
    assert gray is not None, f"cannot read {SKETCH}"
    reps = (-(-side // gray.shape[0]), -(-side // gray.shape[1]))
    return np.ascontiguousarray(np.tile(gray, reps)[:side, :side])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def untrained_default_model(directory: Path) -> Path:
    from trainer.model import build_unet

    path = directory / "untrained-default.keras"
    build_unet().save(path)
    return path


def flops_per_pixel(keras_model, side: int = 256) -> float:
    """Multiply-adds x 2 of every convolution, per input pixel (normalizations left out)."""
    import keras

    fixed = keras.models.clone_model(keras_model, input_tensors=keras.Input((side, side, 1)))
    total = 0
    for layer in fixed.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "Conv2DTranspose"):
            kh, kw = layer.kernel_size
            shape = layer.input.shape if kind == "Conv2DTranspose" else layer.output.shape
            total += 2 * kh * kw * layer.input.shape[-1] * layer.filters * shape[1] * shape[2]
    return total / side**2


def cpu_peak_gflops() -> tuple[float, str]:
    """fp32 peak of this machine's cores, and how it was worked out."""
    mhz = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    except OSError:
        pass
    mhz = mhz or 2500.0
    cores = os.cpu_count() or 1
    peak = cores * mhz / 1000 * 32
    return peak, f"{cores} cores x {mhz / 1000:.2f} GHz x 32 FLOP/cycle = {peak:.0f} GFLOP/s"


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MemoryWatch:
    """Peak resident memory of a process over its memory at the start (Linux /proc)."""

    def __init__(self, pid: int):
        self.pid = pid

    def __enter__(self):
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # reset VmHWM to VmRSS
        except OSError:
            pass
        self.idle = _status_mb(self.pid, "VmRSS")
        return self

    def __exit__(self, *exc):
        self.peak = _status_mb(self.pid, "VmHWM")
        self.over_idle = self.peak - self.idle


def timed(func, repeats: int) -> float:
    """Median seconds of `repeats` runs after one warm-up run."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def speed(seconds: float, megapixels: float, flops_px: float, peak: float) -> dict:
    gflops = flops_px * megapixels * 1e6 / seconds / 1e9
    return {
        "seconds": round(seconds, 4),
        "images_per_s": round(1 / seconds, 3),
        "megapixels_per_s": round(megapixels / seconds, 3),
        "gflops": round(gflops, 1),
        "percent_of_peak": round(100 * gflops / peak, 1),
    }


def bench_size(side, cleaner, client, pid, repeats, flops_px, peak) -> dict:
    gray = sketch(side)
    payload = gray.tobytes()
    repeats = repeats if side < 4096 else 1
    row = {"size": side, "megapixels": side * side / 1e6}
    if cleaner is not None and side <= NETWORK_MAX_SIDE:
        padded = -(-side // 8) * 8  # the full frame, to the network's multiple
        frame = np.ones((1, padded, padded), np.float32)
        frame[0, :side, :side] = gray / np.float32(255)
        seconds = timed(lambda: cleaner.model.predict(frame), repeats)
        row["network"] = speed(seconds, row["megapixels"], flops_px, peak)
    if cleaner is not None:
        seconds = timed(lambda: cleaner.clean(payload, side, side, "gray8", OPTIONS), repeats)
        row["pipeline"] = speed(seconds, row["megapixels"], flops_px, peak)
    with MemoryWatch(pid) as memory:
        seconds = timed(
            lambda: client.clean(payload, side, side, "gray8", WIRE_OPTIONS, timeout=3600), repeats
        )
    row["end_to_end"] = speed(seconds, row["megapixels"], flops_px, peak)
    row["memory"] = {
        "peak_mb_over_idle": round(memory.over_idle, 1),
        "bytes_per_pixel": round(memory.over_idle * 2**20 / (side * side), 1),
    }
    if "network" in row:
        row["end_to_end_over_network"] = round(seconds / row["network"]["seconds"], 3)
    print(f"  {side}²: end to end {seconds:.3f} s, +{memory.over_idle:.0f} MB", flush=True)
    return row


def memory_row(side, client, pid, flops_px, peak) -> dict:
    gray = sketch(side)
    payload = gray.tobytes()
    with MemoryWatch(pid) as memory:
        start = time.perf_counter()
        client.clean(payload, side, side, "gray8", WIRE_OPTIONS, timeout=3600)
        seconds = time.perf_counter() - start
    del payload, gray
    print(f"  {side}² once: {seconds:.1f} s, +{memory.over_idle:.0f} MB", flush=True)
    return {
        "size": side,
        "megapixels": side * side / 1e6,
        "end_to_end": speed(seconds, side * side / 1e6, flops_px, peak),
        "memory": {
            "peak_mb_over_idle": round(memory.over_idle, 1),
            "bytes_per_pixel": round(memory.over_idle * 2**20 / (side * side), 1),
        },
    }


def start_server(command_args: list[str], cwd: Path, log: Path):
    """A real backend process: this tree's, or (cwd=an older tree) the baseline's."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(cwd), str(ROOT), env.get("PYTHONPATH", "")])
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--bind", endpoint, *command_args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        info = wait_until_ready(endpoint, lambda: proc.poll() is None, timeout=300)
    except proto.BackendUnavailable as exc:
        raise SystemExit(f"{exc.message}:\n{log.read_text()}") from None
    return proc, endpoint, info


def bench_runtime(label, server_args, cwd, cleaner, args, tmp, flops_px, peak) -> list[dict]:
    print(f"{label}:", flush=True)
    started = time.perf_counter()
    proc, endpoint, info = start_server(server_args, cwd, tmp / f"{label}.log")
    startup = round(time.perf_counter() - started, 1)
    print(f"  started and answering in {startup} s ({info['device']})", flush=True)
    rows = []
    try:
        with Client(endpoint, stall_timeout=600) as client:
            for side in args.sizes:
                row = bench_size(side, cleaner, client, proc.pid, args.repeats, flops_px, peak)
                rows.append(
                    {"runtime": label, "device": info["device"], "startup_s": startup, **row}
                )
            if args.memory_side:
                row = memory_row(args.memory_side, client, proc.pid, flops_px, peak)
                rows.append(
                    {"runtime": label, "device": info["device"], "memory_only": True, **row}
                )
    finally:
        proc.terminate()
        proc.wait(30)
    return rows


def baseline_tree(rev: str, tmp: Path) -> Path:
    """The backend as it was at `rev` (git archive: nothing in the repository changes)."""
    target = tmp / f"baseline-{rev}"
    target.mkdir()
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    # the wire protocol lived in sketch_client.py before the editor kit (sketch_kit/)
    parts = [name for name in ("backend", "sketch_kit", "sketch_client.py") if name in listed]
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, *parts],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def print_table(rows, peak_note, flops_px) -> None:
    print(
        f"\nSketch Cleanup backend benchmark: {flops_px / 1e6:.4f} MFLOP per pixel; "
        f"fp32 peak {peak_note}"
    )
    head = (
        f"{'runtime':<16} {'input':>6} | {'network s':>9} {'GFLOP/s':>7} {'%pk':>4} | "
        f"{'end-to-end s':>12} {'img/s':>6} {'MP/s':>6} {'GFLOP/s':>7} {'%pk':>4} "
        f"{'e2e/net':>7} | {'peak MB':>7} {'B/px':>5}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        n, e, mem = r.get("network"), r["end_to_end"], r["memory"]
        net = (
            f"{n['seconds']:>9.3f} {n['gflops']:>7.1f} {n['percent_of_peak']:>4.0f}"
            if n
            else (f"{'-':>9} {'-':>7} {'-':>4}")
        )
        ratio = r.get("end_to_end_over_network")
        print(
            f"{r['runtime']:<16} {r['size']:>5}² | {net} | {e['seconds']:>12.3f} "
            f"{e['images_per_s']:>6.2f} {e['megapixels_per_s']:>6.2f} {e['gflops']:>7.1f} "
            f"{e['percent_of_peak']:>4.0f} {ratio if ratio else '-':>7} | "
            f"{mem['peak_mb_over_idle']:>7.0f} {mem['bytes_per_pixel']:>5.1f}"
        )
    first = rows[0]["runtime"]
    for r in rows:
        if r["runtime"] == first or r.get("memory_only"):
            continue
        base = next((b for b in rows if b["runtime"] == first and b["size"] == r["size"]), None)
        if base:
            ratio = base["end_to_end"]["seconds"] / r["end_to_end"]["seconds"]
            print(f"  {r['runtime']} {r['size']}²: {ratio:.2f}x faster end to end than {first}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="a .keras file (default: the shipped model)")
    parser.add_argument(
        "--untrained", action="store_true", help="time the default architecture with random weights"
    )
    parser.add_argument(
        "--runtime",
        nargs="+",
        choices=defaults.RUNTIMES,
        default=["keras", "openvino"],
        help="runtimes to compare, side by side (%(default)s)",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also time the backend of this git commit (its own defaults), first in the table",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[424, 1024, 4096])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size (4096²: 1)")
    parser.add_argument(
        "--memory-side", type=int, default=8000, help="one layer this big for memory (0: none)"
    )
    parser.add_argument("--tile", type=int, default=defaults.TILE)
    parser.add_argument("--overlap", type=int, default=defaults.OVERLAP)
    parser.add_argument("--batch", type=int, default=defaults.BATCH)
    parser.add_argument("--peak-gflops", type=float, help="the CPU's fp32 peak, if known")
    parser.add_argument(
        "--json",
        type=Path,
        help="where to write the results (default: bench/results/backend-<cpu|gpu>.json)",
    )
    args = parser.parse_args(argv)

    from backend.model import default_model_path, describe_device, load
    from backend.pipeline import Cleaner, Settings

    tmp = Path(tempfile.mkdtemp(prefix="sketch-bench-"))
    model_path = Path(args.model) if args.model else default_model_path()
    if args.untrained or not model_path.exists():
        print("timing the default U-Net with random weights (no trained model given)")
        model_path = untrained_default_model(tmp)
    peak, peak_note = cpu_peak_gflops()
    if args.peak_gflops:
        peak, peak_note = args.peak_gflops, f"{args.peak_gflops:.0f} GFLOP/s (given)"
    settings = Settings(tile=args.tile, overlap=args.overlap, batch=args.batch)
    tiling_args = ["--tile", str(args.tile), "--overlap", str(args.overlap)]
    tiling_args += ["--batch", str(args.batch), "--model", str(model_path)]
    rows: list[dict] = []
    flops_px: float | None = None
    params = 0
    try:
        if args.baseline:
            tree = baseline_tree(args.baseline, tmp)
            import keras

            reference = keras.saving.load_model(model_path, compile=False)
            flops_px, params = flops_per_pixel(reference), reference.count_params()
            label = f"auto@{args.baseline[:7]}"  # the baseline backend picks its runtime
            rows += bench_runtime(
                label, ["--model", str(model_path)], tree, None, args, tmp, flops_px, peak
            )
        for name in args.runtime:
            cleaner = Cleaner(load(model_path, name), settings)
            if flops_px is None:
                flops_px = flops_per_pixel(cleaner.model.keras_model)
                params = cleaner.model.keras_model.count_params()
            server_args = ["--runtime", name, *tiling_args]
            rows += bench_runtime(
                cleaner.model.runtime_name, server_args, ROOT, cleaner, args, tmp, flops_px, peak
            )
            del cleaner
            gc.collect()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(rows, peak_note, flops_px)
    keras_device = describe_device()
    result = {
        "device": keras_device,
        "runtimes": sorted({r["runtime"] for r in rows}, key=[r["runtime"] for r in rows].index),
        "model": str(model_path.name),
        "params": params,
        "flops_per_pixel": flops_px,
        "peak_gflops": round(peak, 1),
        "peak_note": peak_note,
        "tile": args.tile,
        "overlap": args.overlap,
        "batch": args.batch,
        "baseline": args.baseline,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": rows,
    }
    kind = "gpu" if "GPU" in keras_device.upper() else "cpu"
    out = args.json or ROOT / "bench" / "results" / f"backend-{kind}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
