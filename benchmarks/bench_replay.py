"""Benchmark replay: batch replay of a year under 30 s, and one online cycle (featurize the newest bar from
candles, then predict) with p99 under 200 ms, on 2 cores.

Uses the README demo's store, snapshot and bundle (running the demo first when they are missing: real data
where the demo finds it, `$FS_DEMO_DATA` naming its folder, else synthetic). Prints medians, p99 and the
ratio to each target, then where an online cycle's time goes: each table group's SQL run alone on its
declared lookback and on the fewest candles (the fixed cost of its SQL, which no row count removes), and
scoring alone. Their sum is the CPU work of one cycle; two cores need at least half of it.

    python benchmarks/bench_replay.py [--store fsdata] [--repeats 3] [--online-bars 300] [--skip-batch]
    python benchmarks/bench_replay.py --smoke

`--smoke` is the smallest mode: three months of synthetic candles (even where real data exists) in a
temporary store, a tiny bundle trained on them, one batch replay, 5 online bars, 2 broken down; it shows
the script works, not the targets.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from smoke_inputs import smoke_bundle, smoke_store

from featurestore.app.demo import choose_demo_data
from featurestore.compute.online import featurize_window, lookback_groups, stored_candles
from featurestore.compute.pipeline import run_pipeline
from featurestore.compute.sql_sandbox import open_sandbox
from featurestore.store.handle import Store, utc_day_range
from schemas.contract import CONTRACT_HASH_KEYS
from train.app.demo import run_full_demo
from train.evaluation.replay import ReplayConfig, replay_snapshot
from train.evaluation.replay_bundles import load_bundle
from train.fitting.bundle import LoadedBundle
from train.fitting.dataset import join_tables
from train.serving.live import predict_latest, single_threaded
from train.serving.scoring import HISTORY_BARS, score_frame

logger = logging.getLogger("bench_replay")
BATCH_TARGET_S, ONLINE_P99_TARGET_MS = 30.0, 200.0


def batch(store: Store, bundle: Path, snapshot_id: str, repeats: int) -> dict[str, float]:
    runs, summary = [], {}
    for _ in range(repeats):
        began = time.perf_counter()
        summary = replay_snapshot(store, bundle, snapshot_id, ReplayConfig(all_bars=True)).summary
        runs.append(time.perf_counter() - began)
    seconds = statistics.median(runs)
    return {
        "cycles": summary["funnel"]["cycles"],
        "predicted": summary["funnel"]["predicted"],
        "runs": repeats,
        "median_s": round(seconds, 2),
        "min_s": round(min(runs), 2),
        "stage_s": summary["timings_s"],
        "target_s": BATCH_TARGET_S,
        "ratio_to_target": round(seconds / BATCH_TARGET_S, 2),
    }


def online(bundle: LoadedBundle, candles: pa.Table, ends: np.ndarray) -> dict[str, float]:
    """Time predict_latest on the bars at `ends` (candles up to each bar)."""
    predict_latest(bundle, candles.slice(0, int(ends[0]) + 1))  # first call: imports and caches
    ms, predicted = [], 0
    for end in ends:
        began = time.perf_counter()
        decision = predict_latest(bundle, candles.slice(0, int(end) + 1))
        ms.append((time.perf_counter() - began) * 1000)
        predicted += decision.predicted
    p99 = float(np.quantile(ms, 0.99))
    return {
        "bars": len(ends),
        "predicted": predicted,
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(float(np.quantile(ms, 0.95)), 1),
        "p99_ms": round(p99, 1),
        "target_p99_ms": ONLINE_P99_TARGET_MS,
        "ratio_to_target": round(p99 / ONLINE_P99_TARGET_MS, 2),
    }


def breakdown(bundle: LoadedBundle, candles: pa.Table, ends: np.ndarray) -> dict[str, float]:
    """Median ms of each part of an online cycle, run one at a time on one core."""
    database = open_sandbox(threads=1)  # as the online featurizer's shared one
    contract = bundle.contract  # the SQL the bundle was trained on, as predict_latest runs it
    bar = timedelta(minutes=int(contract.parameters["timeframe_minutes"]))

    def group_ms(history: pa.Table, tables: tuple[str, ...], candles_in: int) -> float:
        window = history.slice(history.num_rows - candles_in)
        ts = window.column("ts")
        start, end = ts[-HISTORY_BARS].as_py(), ts[-1].as_py() + bar
        warmup = None if "eligibility" in tables else pa.chunked_array([np.zeros(HISTORY_BARS, dtype=bool)])
        began = time.perf_counter()
        run_pipeline(window, start, end, contract=contract, tables=tables, warmup=warmup, database=database)
        return (time.perf_counter() - began) * 1000

    parts: dict[str, list[float]] = {}
    for end in ends:
        history = candles.slice(0, int(end) + 1)
        for lookback, tables in lookback_groups(contract):
            name = "+".join(tables)
            parts.setdefault(f"{name} ({lookback + HISTORY_BARS} candles)", []).append(
                group_ms(history, tables, lookback + HISTORY_BARS)
            )
            parts.setdefault(f"{name} ({HISTORY_BARS} candles)", []).append(
                group_ms(history, tables, HISTORY_BARS)
            )
        began = time.perf_counter()
        frame = join_tables(featurize_window(history, HISTORY_BARS, contract=contract), "online")
        parts.setdefault("featurize, groups side by side", []).append((time.perf_counter() - began) * 1000)
        newest = np.arange(frame.height) == frame.height - 1
        with single_threaded():
            began = time.perf_counter()
            score_frame(bundle, frame, within=newest)
        parts.setdefault("scoring", []).append((time.perf_counter() - began) * 1000)
    row = {name: round(statistics.median(ms), 1) for name, ms in parts.items()}
    work = sum(
        row[f"{'+'.join(tables)} ({lookback + HISTORY_BARS} candles)"]
        for lookback, tables in lookback_groups(contract)
    )
    row["cpu_work_ms"] = round(work + row["scoring"], 1)
    row["two_core_floor_ms"] = round(row["cpu_work_ms"] / 2, 1)
    row["floor_ratio_to_target"] = round(row["two_core_floor_ms"] / ONLINE_P99_TARGET_MS, 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=Path("fsdata"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--online-bars", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the targets assume 2 cores)")
    parser.add_argument("--breakdown-bars", type=int, default=50, help="bars timed part by part")
    parser.add_argument("--skip-batch", action="store_true", help="time the online cycle only")
    parser.add_argument("--smoke", action="store_true", help="smallest mode: tiny bundle, a few bars")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            args.repeats, args.online_bars, args.breakdown_bars = 1, 5, 2
            store, snapshot_id = smoke_store(Path(tmp))
            bundle, data = smoke_bundle(store, snapshot_id), "synthetic (smoke)"
        else:
            store = Store.at(args.store)
            demo = run_full_demo(store, choose_demo_data(store))
            snapshot_id = demo.feature_store.validate.snapshot_id
            bundle, data = Path(demo.bundle_path), demo.feature_store.data.kind
        run(args, store, snapshot_id, bundle, data)


def run(args: argparse.Namespace, store: Store, snapshot_id: str, bundle: Path, data: str) -> None:
    """Time the batch replay (unless skipped), the online cycle and its parts; print a line for each."""
    manifest = json.loads((store.snapshots_dir / snapshot_id / "manifest.json").read_text(encoding="utf-8"))
    if not args.skip_batch:
        row = batch(store, bundle, snapshot_id, args.repeats)
        sys.stdout.write(f"{data} batch replay: {json.dumps(row)}\n")
        sys.stdout.flush()
    loaded = load_bundle(bundle, "replay", {k: manifest[k] for k in CONTRACT_HASH_KEYS})
    candles = stored_candles(store, manifest["symbol"], manifest["timeframe"])
    ts = candles.column("ts").to_numpy()
    lo, hi = utc_day_range(*(date.fromisoformat(d) for d in manifest["date_range"]))
    first, last = (int(np.searchsorted(ts, np.datetime64(moment, "us"))) for moment in (lo, hi))
    ends = np.random.default_rng(7).choice(np.arange(first, last), size=args.online_bars, replace=False)
    row = online(loaded, candles, ends)
    sys.stdout.write(f"{data} online cycle: {json.dumps(row)}\n")
    sys.stdout.flush()
    row = breakdown(loaded, candles, ends[: args.breakdown_bars])
    sys.stdout.write(f"{data} online cycle, median ms per part: {json.dumps(row)}\n")


if __name__ == "__main__":
    main()
