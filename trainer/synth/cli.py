"""Command line: ``python -m trainer.synth --out DIR -n 1000 [--contact-sheet PATH]``.

``python -m trainer synth`` is the same command (:func:`add_arguments` and :func:`run`).
"""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", help="output folder (gets input/ and target/)")
    p.add_argument("-n", type=int, default=1000, help="number of pairs (%(default)s)")
    p.add_argument("--size", type=int, default=424, help="image side in px (%(default)s)")
    p.add_argument(
        "--seed", type=int, default=0, help="run seed; pair i depends on (seed, i) (%(default)s)"
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="processes that draw pairs; the pairs do not depend on it (%(default)s)",
    )
    p.add_argument(
        "--contact-sheet",
        metavar="PATH",
        help="also write a PNG contact sheet of synthetic vs real roughs",
    )
    p.add_argument(
        "--sheet-count", type=int, default=6, help="synthetic pairs on the sheet (%(default)s)"
    )
    p.add_argument("--bench", type=int, metavar="N", help="time N pairs in this process and exit")


def build_parser(prog: str = "python -m trainer.synth") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Write synthetic (rough, clean) sketch pairs."
    )
    add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    if args.bench:
        return _bench(args.bench, args.size, args.seed)
    if not args.out and not args.contact_sheet:
        print("synth: give --out DIR and/or --contact-sheet PATH", file=sys.stderr)
        return 2
    if args.out:
        from .pairs import write_pairs

        write_pairs(args.out, args.n, size=args.size, seed=args.seed, workers=args.processes)
    if args.contact_sheet:
        from .contact import contact_sheet

        path = contact_sheet(args.contact_sheet, seed=args.seed, n=args.sheet_count, size=args.size)
        print(f"contact sheet: {path}")
    return 0


def _bench(count: int, size: int, seed: int) -> int:
    import cv2
    import numpy as np

    from .pairs import make_pair, pair_rng

    cv2.setNumThreads(1)
    for i in range(min(count, 20)):  # warm caches (fonts, textures, glyph files)
        make_pair(pair_rng(seed, i), size)
    times = []
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        t = time.process_time()
        make_pair(pair_rng(seed, i), size)
        times.append(time.process_time() - t)
    wall = (time.perf_counter() - t_wall) / count
    cpu = (time.process_time() - t_cpu) / count
    p95 = float(np.percentile(times, 95))
    print(
        f"{size}x{size} pair, one thread, {count} pairs: "
        f"{cpu * 1000:.1f} ms CPU (p95 {p95 * 1000:.1f} ms), {wall * 1000:.1f} ms wall"
    )
    return 0
