"""The vendored drawings' file format (data/*.json.gz): gzipped JSON whose polylines are
quantised to 1/Q of a unit, the first point absolute and the rest as deltas (they gzip
well). vendor_icons.py and vendor_peeps.py write it; icons.py and peeps.py read it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np


def encode(p: np.ndarray, q: float) -> list[int]:
    """A polyline's quantised coordinates, the first point absolute and the rest as deltas."""
    quantised = np.round(p * q).astype(np.int64)
    moved = np.concatenate([[True], (np.diff(quantised, axis=0) != 0).any(1)])
    quantised = quantised[moved]  # no repeated points
    return np.concatenate([quantised[:1], np.diff(quantised, axis=0)]).reshape(-1).tolist()


def decode(v: list[int], q: float) -> np.ndarray:
    """The (n, 2) float polyline that `encode` stored."""
    return np.cumsum(np.array(v, np.float64).reshape(-1, 2), 0) / q


def write(path: Path, data: dict) -> int:
    """Write `data`; the JSON's size in bytes. mtime 0: the same data gives the same bytes."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(raw)
    return len(raw)


def read(path: Path) -> dict | None:
    """The file's data; None if it is missing or unreadable (the source is then left out)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
