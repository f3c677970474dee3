"""Every script in benchmarks/ runs as a user runs it, in its smallest mode (`--smoke`), on a machine without
the real export: a fresh process from an empty working folder, the demo's data folder pointed at an empty
one. Each must exit 0, print its figures (a median and a ratio to its target, as numbers) and leave the
working folder empty (its store is a temporary one)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BENCHMARKS = REPO / "benchmarks"
SMOKE_TIMEOUT_S = 600  # a bound so a stuck benchmark fails the test instead of hanging it

# script -> the labels of the lines it must print; a line whose label ends in ":" carries a JSON object with
# numeric "median*" and "ratio*" fields, the others state their median and ratio in words.
FIGURES = {
    "bench_cli_help.py": [r"featurestore\.app\.cli --help", r"train\.app\.cli --help"],
    "bench_contract_check.py": [r"synthetic \(smoke\) fs contract check v2, 1 cut:"],
    "bench_grid.py": [r"synthetic \(smoke\) grid, no Dask:"],
    "bench_live.py": [r"synthetic \(smoke\) catch-up:", r"synthetic \(smoke\) latency:"],
    "bench_context_evidence.py": [r"context evidence \(synthetic inputs, full-size v10_ctx\):"],
    "bench_materialize.py": [r"synthetic \(smoke\) x1:"],
    "bench_validate.py": [r"synthetic \(smoke\) gate x1:", r"synthetic \(smoke\) data docs x1:"],
    "bench_status.py": [
        r"synthetic \(smoke\): fs status --json \(process\)",
        r"synthetic \(smoke\): store_status\(\) in-process",
    ],
    "bench_train.py": [r"synthetic \(smoke\):"],
    "bench_replay.py": [
        r"synthetic \(smoke\) batch replay:",
        r"synthetic \(smoke\) online cycle:",
        r"synthetic \(smoke\) online cycle, median ms per part:",
    ],
}
QUICK = {"bench_cli_help.py"}  # seconds; the others build a store (and some train a model): slow


def test_every_benchmark_has_a_smoke_run() -> None:
    assert sorted(p.name for p in BENCHMARKS.glob("bench_*.py")) == sorted(FIGURES)


def _check_figures(script: str, stdout: str) -> None:
    for label in FIGURES[script]:
        lines = [line for line in stdout.splitlines() if re.match(label, line)]
        assert len(lines) == 1, f"{script} printed no single line {label!r}:\n{stdout}"
        rest = re.sub(label, "", lines[0], count=1).strip()
        if label.endswith(":"):
            row = json.loads(rest[: rest.rindex("}") + 1])
            medians = [k for k in row if k.startswith("median") or k.endswith(("per_s", "_ms"))]
            ratios = [k for k in row if "ratio" in k]
            numbers = [row[k] for k in medians + ratios]
            assert medians and ratios and all(isinstance(v, int | float) and v >= 0 for v in numbers), row
        else:
            assert re.search(r"median \d+\.\d+ s over 1\b", rest), rest
            assert re.search(r"(\d+\.\d+x the|target \d+\.\d+)", rest), rest


@pytest.mark.parametrize(
    "script",
    [pytest.param(s, marks=() if s in QUICK else pytest.mark.slow) for s in sorted(FIGURES)],
)
def test_benchmark_smoke_run(script: str, tmp_path: Path) -> None:
    work, no_data = tmp_path / "work", tmp_path / "no_real_data"
    work.mkdir()
    no_data.mkdir()
    env = {
        **os.environ,
        "FS_DEMO_DATA": str(no_data),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
    )
    assert done.returncode == 0, f"{script} --smoke exited {done.returncode}:\n{done.stderr[-3000:]}"
    _check_figures(script, done.stdout)
    assert not any(work.iterdir()), f"{script} --smoke wrote into the working folder: {list(work.iterdir())}"
