"""Pack a run for the trip back from a leased GPU machine, and unpack it here.

The lease returns files of at most 16 MiB, so the run's model (saved without optimizer
state, 33 MB for the default U-Net) and its logs travel as one gzipped tar split into parts.
A run killed before ``final.keras`` was written travels with its best weights instead.

    python -m trainer.recipes.pack_run pack RUN_DIR OUT_DIR
    python -m trainer.recipes.pack_run unpack OUT_DIR RUN_DIR
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from pathlib import Path

PART_BYTES = 15 * 1024 * 1024
SMALL_FILES = ("run.json", "summary.json", "log.csv", "best.json")


def _model_without_optimizer(run: Path):
    import keras
    import numpy as np

    from trainer.model import build_unet, get_config

    final = run / "final.keras"
    if final.exists():
        return keras.saving.load_model(final, compile=False), "final.keras"
    preset = json.loads((run / "run.json").read_text())["config"]["model_preset"]
    model = build_unet(get_config(preset))
    with np.load(run / "best.weights.npz") as z:
        model.set_weights([z[f"arr_{i}"] for i in range(len(z.files))])
    return model, "best.weights.npz"


def pack(run: Path, out: Path) -> list[Path]:
    model, source = _model_without_optimizer(run)
    model_path = out / "final.keras"
    model.save(model_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(model_path, arcname="final.keras")
        for name in SMALL_FILES:
            if (run / name).exists():
                tar.add(run / name, arcname=name)
    model_path.unlink()
    data = buf.getvalue()
    parts = []
    for i in range(0, len(data), PART_BYTES):
        part = out / f"run.tgz.part{i // PART_BYTES:02d}"
        part.write_bytes(data[i : i + PART_BYTES])
        parts.append(part)
    print(f"packed {run} ({source}) into {len(parts)} parts, {len(data) / 2**20:.1f} MiB")
    return parts


def unpack(parts_dir: Path, run: Path) -> None:
    parts = sorted(parts_dir.glob("run.tgz.part*"))
    if not parts:
        raise SystemExit(f"{parts_dir}: no run.tgz.part* files")
    data = b"".join(p.read_bytes() for p in parts)
    run.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(run, filter="data")
    print(f"unpacked {len(parts)} parts into {run}: {sorted(p.name for p in run.iterdir())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="RUN_DIR -> parts in OUT_DIR")
    p.add_argument("run", type=Path)
    p.add_argument("out", type=Path)
    u = sub.add_parser("unpack", help="parts in DIR -> RUN_DIR")
    u.add_argument("parts", type=Path)
    u.add_argument("run", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.run, args.out)
    else:
        unpack(args.parts, args.run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
