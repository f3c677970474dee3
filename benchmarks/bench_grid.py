"""Benchmark the evaluation grid: `train evaluate` without Dask, on a LocalCluster of 1 worker and of 2.

Each run is the real command (`train evaluate ... --json` in a subprocess, so cluster start and imports
count), on the same snapshot and grid; prints per engine the median wall seconds with the range, the ratio to
no Dask, the CPU seconds of the finished descendants (getrusage; it can miss Dask's worker processes), the
median seconds per preparation and per fit, and whether the pooled figures equal
the first engine's. Then the grid's expected wall time on more cores, from the per-task times of the
1-thread workers (greedy list scheduling of the same tasks, preparations before their fits; docs/grid.md).

    python benchmarks/bench_grid.py --store fsdata [--snapshot ID] [--repeats 3] [--folds 4] [--save F]

Default grid: `--quick` (2 folds, v10 and v10_ctx, 1 seed, 1 epoch, the 3000 most recent training samples,
a 50-tree base model): 2 preparations and 4 fits.

    python benchmarks/bench_grid.py --smoke

`--smoke` is the smallest mode: `--quick` with the tiny smoke model (`--config`) on three months of
synthetic candles (even where real data exists) in a temporary store, once, without Dask (a `--workers 1`
run would more than double its time); it shows the script works, not the grid's speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ENGINES = {"no Dask": [], "--workers 1": ["--workers", "1"], "--workers 2": ["--workers", "2"]}


def _newest_snapshot(store: Path) -> str:
    folders = sorted((store / "snapshots").glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if not folders:
        sys.exit(f"no snapshot in {store}: build a contract v2 snapshot first (README: the whole flow)")
    return folders[-1].parent.name


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every finished descendant, workers included
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str], cwd: Path | None = None) -> tuple[float, dict[str, Any]]:
    began, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600, cwd=cwd)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    report["bench_cpu_seconds"] = _cpu() - cpu
    return wall, report


def _pooled(report: dict[str, Any]) -> str:
    return json.dumps(
        {v: p["intervals"]["direction"]["log_loss"] for v, p in report["pooled"].items()}, sort_keys=True
    )


def _tasks(report: dict[str, Any], kind: str) -> list[float]:
    tasks = report["seconds"]["tasks"]
    return [s for label, s in tasks.items() if ("base model and inputs" in label) == (kind == "prepare")]


def expected_wall(report: dict[str, Any], slots: int) -> float:
    """Greedy list scheduling of the report's tasks on ``slots`` one-thread workers: each fold's
    preparations first (the fits need them), then its fits, in submission order."""
    free = [0.0] * slots
    ready: dict[str, float] = {}
    tasks = report["seconds"]["tasks"]
    for label, seconds in tasks.items():
        fold = label.split(":")[0].split(" · ")[0]
        start = min(free)
        if "base model and inputs" not in label:
            start = max(start, ready.get(fold, 0.0))
        end = start + seconds
        free[free.index(min(free))] = end
        if "base model and inputs" in label:
            ready[fold] = max(ready.get(fold, 0.0), end)
    return max(free)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=Path("fsdata"))
    parser.add_argument("--snapshot", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folds", type=int, default=None, help="instead of --quick's 2 folds")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated subset of " + str(list(ENGINES))
    )
    parser.add_argument("--save", type=Path, default=None, help="write each run's figures to this JSON file")
    parser.add_argument(
        "--smoke", action="store_true", help="smallest mode: --quick, tiny model, 3 months, 1 run, no Dask"
    )
    args = parser.parse_args()
    if args.smoke:
        smoke()
        return
    snapshot = args.snapshot or _newest_snapshot(args.store)
    base = [
        sys.executable,
        "-m",
        "train.app.cli",
        "evaluate",
        "--snapshot",
        snapshot,
        "--store",
        str(args.store),
    ]
    base += ["--json", "--quick"] + (["--folds", str(args.folds)] if args.folds else [])
    print(
        f"snapshot {snapshot}, {os.cpu_count()} cores, {args.repeats} runs per engine, "
        f"grid: {' '.join(base[3:])}"
    )
    runs: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for repeat in range(args.repeats):
        for name in args.engines.split(","):
            runs.setdefault(name, []).append(_run(base + ENGINES[name]))
            print(f"  run {repeat + 1} {name}: {runs[name][-1][0]:.1f} s", flush=True)
    if args.save:
        keep = ("seconds", "bench_cpu_seconds", "engine")
        saved = {
            name: [{"wall": w, "pooled": _pooled(r), **{k: r[k] for k in keep}} for w, r in done]
            for name, done in runs.items()
        }
        args.save.write_text(json.dumps(saved, indent=1))
    reference = statistics.median(w for w, _ in runs[next(iter(runs))])
    first_pooled = _pooled(runs[next(iter(runs))][0][1])
    print(
        f"\n{'engine':<13} {'n':>2} {'wall median [min, max] s':>26} {'ratio':>6} "
        f"{'cpu s':>7} {'prep s':>7} {'fit s':>6}  pooled"
    )
    for name, done in runs.items():
        walls = [w for w, _ in done]
        prep = statistics.median(s for _, r in done for s in _tasks(r, "prepare"))
        fit = statistics.median(s for _, r in done for s in _tasks(r, "fit"))
        same = "identical" if all(_pooled(r) == first_pooled for _, r in done) else "differs"
        median = statistics.median(walls)
        spread = f"{median:.1f} [{min(walls):.1f}, {max(walls):.1f}]"
        cpu = statistics.median(r["bench_cpu_seconds"] for _, r in done)
        print(
            f"{name:<13} {len(walls):>2} {spread:>26} {median / reference:>6.2f} "
            f"{cpu:>7.1f} {prep:>7.1f} {fit:>6.1f}  {same}"
        )
    one_thread = runs.get("--workers 2")
    if one_thread:
        report = one_thread[0][1]
        work = sum(report["seconds"]["tasks"].values())
        print(
            f"\none-thread task seconds of this grid: {work:.0f} s in {len(report['seconds']['tasks'])} tasks"
        )
        for slots in (2, 8, 32):
            print(
                f"  {slots:>2} one-thread workers: grid about {expected_wall(report, slots):.0f} s "
                "(tasks only)"
            )


SMOKE_ENGINES = ("no Dask",)  # --workers 1 took 77 s beside no Dask's 43 s on 2 cores


def _smoke_toml(path: Path) -> Path:
    """The smoke run configuration as a training TOML (its splits are left out: the folds replace them)."""
    from smoke_inputs import smoke_run_config  # torch: only the smoke run pays for it here

    config = dataclasses.asdict(smoke_run_config())
    lines = [f"{key} = {json.dumps(config[key])}" for key in ("variant", "seed")]
    for section in ("optim", "base_model", "model"):
        lines.append(f"\n[{section}]")
        values = {k: v for k, v in config[section].items() if v is not None and k != "seed"}  # top-level seed
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def smoke() -> None:
    """One `train evaluate --quick` of the tiny model per engine on the smoke store; a JSON line each."""
    from smoke_inputs import smoke_store

    with tempfile.TemporaryDirectory() as tmp:
        store, snapshot = smoke_store(Path(tmp))
        config = _smoke_toml(Path(tmp) / "smoke.toml")
        base = [sys.executable, "-m", "train.app.cli", "evaluate", "--snapshot", snapshot,
                "--store", str(store.root), "--config", str(config), "--json", "--quick"]  # fmt: skip
        runs = {name: _run(base + ENGINES[name], cwd=Path(tmp)) for name in SMOKE_ENGINES}
    reference = runs[SMOKE_ENGINES[0]][0]
    first_pooled = _pooled(runs[SMOKE_ENGINES[0]][1])
    for name, (wall, report) in runs.items():
        row = {
            "runs": 1,
            "tasks": len(report["seconds"]["tasks"]),
            "median_s": round(wall, 2),
            "cpu_s": round(report["bench_cpu_seconds"], 2),
            "median_prepare_s": round(statistics.median(_tasks(report, "prepare")), 2),
            "median_fit_s": round(statistics.median(_tasks(report, "fit")), 2),
            "ratio_to_no_dask": round(wall / reference, 2),
            "pooled": "identical" if _pooled(report) == first_pooled else "differs",
        }
        sys.stdout.write(f"synthetic (smoke) grid, {name}: {json.dumps(row)}\n")


if __name__ == "__main__":
    main()
