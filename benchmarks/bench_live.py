"""Benchmark `train live`: latency from a complete bar appearing in the followed file to its journal entry
(target p99 under 500 ms on 2 cores), and the catch-up rate over bars that are already there (target at
least 20 bars/s).

Uses the README demo's store and bundle (running the demo first when they are missing: the real export
where the demo finds it, else synthetic candles), or `--store S --bundle B`. The newest bars of the store
are held back in a copy of it and brought back through a followed MT5 file:
- catch-up: the whole held-back stretch is in the file when `train live` starts (in this process, the
  bundle already loaded); the rate is bars decided over the time the loop took;
- latency: `train live` runs as a real subprocess while this process writes one bar at a time (each line
  in two writes, the newline last) and polls the journal until the bar's decision is there.

    python benchmarks/bench_live.py [--store fsdata] [--bundle B] [--catch-up-bars 1000] [--latency-bars 120]
    python benchmarks/bench_live.py --smoke

`--smoke` is the smallest mode: three months of synthetic candles (even where real data exists) in a
temporary store, a tiny bundle trained on them, 20 bars of catch-up and 5 of latency; it shows the script
works, not the targets.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from smoke_inputs import smoke_bundle, smoke_store

from featurestore.api import IngestOptions, Store
from featurestore.app.demo import choose_demo_data
from featurestore.compute.online import stored_candles
from train.app.demo import run_full_demo
from train.serving.live_loop import LiveConfig, LiveRunner
from train.serving.live_sources import FileSource

logger = logging.getLogger("bench_live")
P99_TARGET_MS, RATE_TARGET = 500.0, 20.0
REPO = Path(__file__).resolve().parents[1]


def held_back(store: Store, bars: int, tmp: Path) -> tuple[Path, pl.DataFrame]:
    """A copy of the store without its newest `bars` candles, and those candles."""
    copy = tmp / f"store-{bars}"
    shutil.copytree(store.root, copy, ignore=shutil.ignore_patterns("reports", "validation", "live"))
    candles = pl.from_arrow(stored_candles(store, "XAUUSD", "M5")).tail(bars)
    with duckdb.connect(str(copy / "featurestore.duckdb")) as con:
        con.execute("DELETE FROM candles WHERE ts >= ?", [candles["ts"][0]])
    return copy, candles


def mt5_lines(candles: pl.DataFrame) -> tuple[bytes, list[bytes]]:
    """The MT5 export header and one line per candle, times in UTC (followed with --source-tz UTC)."""
    header = b"<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
    lines = [
        f"{r['ts']:%Y.%m.%d}\t{r['ts']:%H:%M:%S}\t{r['open']:.2f}\t{r['high']:.2f}\t{r['low']:.2f}\t"
        f"{r['close']:.2f}\t{r['tick_volume']}\t0\t{round(r['spread'] / 0.01)}\n".encode()
        for r in candles.iter_rows(named=True)
    ]
    return header, lines


def catch_up(store: Store, bundle: Path, bars: int, tmp: Path) -> dict[str, float]:
    root, candles = held_back(store, bars, tmp)
    header, lines = mt5_lines(candles)
    follow = tmp / "catch_up.tsv"
    follow.write_bytes(header + b"".join(lines))
    options = IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="UTC")
    config = LiveConfig(
        bundle=bundle, source=FileSource(follow), ingest=options, since=candles["ts"][0], max_decisions=bars
    )
    runner = LiveRunner(Store.at(root), config)  # bundle, drift reference and candles loaded: not timed
    try:
        began = time.perf_counter()
        summary = runner.run(lambda: False)
        seconds = time.perf_counter() - began
    finally:
        runner.close()
    rate = summary.decided / seconds
    return {"bars": summary.decided, "seconds": round(seconds, 2), "bars_per_s": round(rate, 1),
            "target_bars_per_s": RATE_TARGET, "ratio_to_target": round(rate / RATE_TARGET, 2)}  # fmt: skip


def latency(store: Store, bundle: Path, bars: int, tmp: Path, interval: float) -> dict[str, float]:
    root, candles = held_back(store, bars, tmp)
    header, lines = mt5_lines(candles)
    follow = tmp / "latency.tsv"
    follow.write_bytes(header)
    journal = tmp / "journal"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    live = subprocess.Popen(
        [sys.executable, "-m", "train.app.cli", "live", "--bundle", str(bundle), "--follow", str(follow),
         "--format", "mt5", "--source-tz", "UTC", "--since", candles["ts"][0].isoformat(), "--poll", "0.05",
         "--journal", str(journal), "--store", str(root), "--json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    waits = []
    try:
        for i, (line, ts) in enumerate(zip(lines, candles["ts"], strict=True)):
            with open(follow, "ab") as handle:
                handle.write(line[:-1])
                handle.flush()
                handle.write(line[-1:])  # the newline: the bar is complete now
            appeared = time.perf_counter()
            timeout = 120 if i == 0 else 30  # the first waits for the process to start
            _wait_for(journal, f"{ts:%Y-%m-%dT%H:%M:%SZ}", live, timeout)
            waits.append(time.perf_counter() - appeared)
            time.sleep(interval)
    finally:
        live.terminate()
        live.wait(timeout=60)
    ms = np.array(waits[1:]) * 1000  # the first bar also waited for the process to start
    p99 = float(np.quantile(ms, 0.99))
    return {"bars": int(ms.size), "median_ms": round(float(np.median(ms)), 1), "p99_ms": round(p99, 1),
            "max_ms": round(float(ms.max()), 1), "target_p99_ms": P99_TARGET_MS,
            "ratio_to_target": round(p99 / P99_TARGET_MS, 2)}  # fmt: skip


def _wait_for(journal: Path, ts: str, live: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    path = journal / "journal.sqlite"
    while time.monotonic() < deadline:
        if live.poll() is not None:
            raise RuntimeError(f"train live exited {live.returncode}: {live.stderr.read()}")
        if path.exists():
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as con:
                    if con.execute("SELECT 1 FROM decisions WHERE ts = ?", (ts,)).fetchone():
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.002)
    raise RuntimeError(f"no decision for {ts} within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=Path("fsdata"))
    parser.add_argument("--bundle", type=Path, help="a bundle of the store to use instead of the demo's")
    parser.add_argument("--catch-up-bars", type=int, default=1000)
    parser.add_argument("--latency-bars", type=int, default=120)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between two bars (latency)")
    parser.add_argument("--smoke", action="store_true", help="smallest mode: tiny bundle, a few bars")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.smoke:
        smoke()
        return
    store = Store.at(args.store)
    if args.bundle is not None:
        bundle, data = args.bundle, "the store's"
    else:
        demo = run_full_demo(store, choose_demo_data(store))
        bundle, data = Path(demo.bundle_path), demo.feature_store.data.kind
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "data": data,
            "bundle": bundle.name,
            "cores": os.cpu_count(),
            "load_average": os.getloadavg(),
            "when": datetime.now().isoformat(timespec="seconds"),
            "catch_up": catch_up(store, bundle, args.catch_up_bars, Path(tmp) / "a"),
            "latency": latency(store, bundle, args.latency_bars, Path(tmp) / "b", args.interval),
        }
    print(json.dumps(result, indent=2))


def smoke() -> None:
    """A few bars of catch-up and of latency through `train live` on the smoke store and its tiny bundle."""
    with tempfile.TemporaryDirectory() as tmp:
        store, snapshot_id = smoke_store(Path(tmp) / "inputs")
        bundle = smoke_bundle(store, snapshot_id)
        rows = {
            "catch-up": catch_up(store, bundle, 20, Path(tmp) / "a"),
            "latency": latency(store, bundle, 5, Path(tmp) / "b", 0.05),
        }
    for name, row in rows.items():
        sys.stdout.write(f"synthetic (smoke) {name}: {json.dumps(row)}\n")


if __name__ == "__main__":
    main()
