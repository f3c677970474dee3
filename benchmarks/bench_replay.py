"""Benchmark replay (DESIGN section 14): batch replay of a year under 30 s, and one online cycle (featurize
the newest bar from candles, then predict) with p99 under 50 ms, on 2 cores.

Uses the README demo's store, snapshot and bundle (running the demo first when they are missing; real data
when ../shared/data exists). Prints medians, p99 and the ratio to each target.

    python benchmarks/bench_replay.py [--store fsdata] [--repeats 3] [--online-bars 300] [--skip-batch]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from featurestore.online import stored_candles
from featurestore.store import Store, utc_day_range
from schemas.contract import CONTRACT_HASH_KEYS
from train.demo import run_full_demo
from train.live import predict_latest
from train.replay import ReplayConfig, load_bundle, replay_snapshot

logger = logging.getLogger("bench_replay")
BATCH_TARGET_S, ONLINE_P99_TARGET_MS = 30.0, 50.0


def batch(store: Store, bundle: Path, snapshot_id: str, repeats: int) -> dict[str, float]:
    runs, summary = [], {}
    for _ in range(repeats):
        began = time.perf_counter()
        summary = replay_snapshot(store, bundle, snapshot_id, ReplayConfig()).summary
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


def online(store: Store, bundle_path: Path, snapshot: dict, bars: int, seed: int) -> dict[str, float]:
    """Time predict_latest on random bars of the snapshot's range (candles read up to each bar)."""
    bundle = load_bundle(bundle_path, "replay", {k: snapshot[k] for k in CONTRACT_HASH_KEYS})
    candles = stored_candles(store, snapshot["symbol"], snapshot["timeframe"])
    ts = candles.column("ts").to_numpy()
    lo, hi = utc_day_range(*(date.fromisoformat(d) for d in snapshot["date_range"]))
    first, last = (int(np.searchsorted(ts, np.datetime64(moment, "us"))) for moment in (lo, hi))
    ends = np.random.default_rng(seed).choice(np.arange(first, last), size=bars, replace=False)
    predict_latest(bundle, candles.slice(0, int(ends[0]) + 1))  # first call: imports and caches
    ms, predicted = [], 0
    for end in ends:
        began = time.perf_counter()
        decision = predict_latest(bundle, candles.slice(0, int(end) + 1))
        ms.append((time.perf_counter() - began) * 1000)
        predicted += decision.predicted
    p99 = float(np.quantile(ms, 0.99))
    return {
        "bars": bars,
        "predicted": predicted,
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(float(np.quantile(ms, 0.95)), 1),
        "p99_ms": round(p99, 1),
        "target_p99_ms": ONLINE_P99_TARGET_MS,
        "ratio_to_target": round(p99 / ONLINE_P99_TARGET_MS, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=Path("fsdata"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--online-bars", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the targets assume 2 cores)")
    parser.add_argument("--skip-batch", action="store_true", help="time the online cycle only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    store = Store.at(args.store)
    demo = run_full_demo(store)
    snapshot_id = demo.feature_store.validate.snapshot_id
    manifest = json.loads((store.snapshots_dir / snapshot_id / "manifest.json").read_text(encoding="utf-8"))
    bundle = Path(demo.bundle_path)
    data = demo.feature_store.data_kind
    if not args.skip_batch:
        row = batch(store, bundle, snapshot_id, args.repeats)
        sys.stdout.write(f"{data} batch replay: {json.dumps(row)}\n")
        sys.stdout.flush()
    row = online(store, bundle, manifest, args.online_bars, seed=7)
    sys.stdout.write(f"{data} online cycle: {json.dumps(row)}\n")


if __name__ == "__main__":
    main()
