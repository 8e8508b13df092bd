"""Command line: ``python -m trainer.synth --out DIR -n 1000 [--contact-sheet PATH]``."""

from __future__ import annotations

import argparse
import time


def build_parser(prog: str = "python -m trainer.synth") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Write synthetic (rough, clean) sketch pairs."
    )
    p.add_argument("--out", help="output folder (gets input/ and target/)")
    p.add_argument("-n", type=int, default=1000, help="number of pairs (default 1000)")
    p.add_argument("--size", type=int, default=424, help="image side in px (default 424)")
    p.add_argument("--seed", type=int, default=0, help="run seed; pair i depends on (seed, i)")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument(
        "--contact-sheet",
        metavar="PATH",
        help="also write a PNG contact sheet of synthetic vs real roughs",
    )
    p.add_argument("--sheet-count", type=int, default=6, help="synthetic pairs on the sheet")
    p.add_argument("--bench", type=int, metavar="N", help="time N pairs in this process and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.bench:
        import cv2
        import numpy as np

        from .pairs import make_pair, pair_rng

        cv2.setNumThreads(1)
        for i in range(min(args.bench, 20)):  # warm caches (fonts, textures, glyph files)
            make_pair(pair_rng(args.seed, i), args.size)
        times = []
        t_wall, t_cpu = time.perf_counter(), time.process_time()
        for i in range(args.bench):
            t = time.process_time()
            make_pair(pair_rng(args.seed, i), args.size)
            times.append(time.process_time() - t)
        wall = (time.perf_counter() - t_wall) / args.bench
        cpu = (time.process_time() - t_cpu) / args.bench
        p95 = float(np.percentile(times, 95))
        print(
            f"{args.size}x{args.size} pair, one thread, {args.bench} pairs: "
            f"{cpu * 1000:.1f} ms CPU (p95 {p95 * 1000:.1f} ms), {wall * 1000:.1f} ms wall"
        )
        return 0
    if not args.out and not args.contact_sheet:
        build_parser().error("give --out DIR and/or --contact-sheet PATH")
    if args.out:
        from .pairs import write_pairs

        write_pairs(args.out, args.n, size=args.size, seed=args.seed, workers=args.workers)
    if args.contact_sheet:
        from .contact import contact_sheet

        path = contact_sheet(args.contact_sheet, seed=args.seed, n=args.sheet_count, size=args.size)
        print(f"contact sheet: {path}")
    return 0
