"""The benchmarks still run: each at a toy size with the tiny test model, its JSON written.

Timings are not checked (they belong to the benchmarks' own tables); what is checked is
that a benchmark keeps working as the backend it drives changes (bench_backend once passed
a dict where the pipeline had come to take typed options, and nothing noticed).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script, arguments",
    [
        ("bench_backend.py", ["--runtime", "keras", "--sizes", "64", "--memory-side", "0"]),
        ("bench_preview.py", ["--runtime", "keras", "--sizes", "1024", "--random", "1"]),
        ("bench_vector.py", ["--runtime", "keras", "--sizes", "128"]),
    ],
)
def test_benchmark_runs_and_writes_its_json(script, arguments, test_model, tmp_path):
    out = tmp_path / "result.json"
    command = [sys.executable, str(ROOT / "bench" / script), "--model", str(test_model)]
    command += [*arguments, "--repeats", "1", "--json", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert json.loads(out.read_text())
