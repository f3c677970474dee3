"""Benchmark `fs materialize` on the real year and on 10x the year (tiled with shifted timestamps).

Prints wall time, bars per second and peak resident memory (median over repeats, each run in a fresh
process so peak memory is per run), and the ratio to the targets: a year in under 2 s, 10x in under 20 s,
on 2 cores.

    python benchmarks/bench_materialize.py [--repeats 5] [--repeats-10x 3] [--contract v1|v2] [--smoke]

Uses the real export where the demo finds it (`$FS_DEMO_DATA` names its folder), else the synthetic demo
candles. `--smoke` is the smallest mode: three months of synthetic candles (even where real data exists),
one run, no 10x; it shows the script works, not the targets.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from smoke_inputs import SMOKE_CANDLES

from featurestore.app.demo import SYNTHETIC, find_real_data
from featurestore.app.synthetic import generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from schemas.versions import CONTRACTS, NEWEST, contract_for

logger = logging.getLogger("bench_materialize")
TILE_WEEKS = 44  # each copy is shifted by whole weeks so weekdays, sessions and breaks line up
TARGETS = {1: 2.0, 10: 20.0}


def build_store(root: Path, copies: int, smoke: bool) -> tuple[date, date]:
    """Ingest the year once, then append `copies - 1` shifted copies; returns the range to materialize."""
    source = None if smoke else find_real_data()
    if source is None:
        source = root / "synthetic.tsv"
        write_mt5_tsv(generate_candles(SMOKE_CANDLES if smoke else SYNTHETIC), source)
    store = Store.at(root / "store")
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    with store.connect() as con:
        for k in range(1, copies):
            con.execute(
                "INSERT INTO candles SELECT symbol, timeframe, ts + to_weeks(?), open, high, low, close, "
                "tick_volume, spread, ingest_id FROM candles "
                "WHERE ts < (SELECT min(ts) FROM candles) + to_weeks(?) "
                "AND ingest_id = 1",
                [k * TILE_WEEKS, TILE_WEEKS],
            )
        first, last = con.execute("SELECT min(ts)::DATE, max(ts)::DATE FROM candles").fetchall()[0]
    return first + timedelta(days=31), last


def run_once(root: Path, start: date, end: date, version: str) -> dict[str, float]:
    began = time.perf_counter()
    result = materialize(
        Store.at(root / "store"), MaterializeConfig("XAUUSD", start, end), contract=contract_for(version)
    )
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "bars": result.rows["context"], "peak_mb": peak_mb}


def measure(copies: int, repeats: int, version: str, smoke: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start, end = build_store(root, copies, smoke)
        runs = []
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(root), start.isoformat(), end.isoformat(), version],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = statistics.median(r["seconds"] for r in runs)
    bars = runs[0]["bars"]
    return {
        "contract": version,
        "copies": copies,
        "bars": bars,
        "runs": repeats,
        "median_s": round(seconds, 3),
        "min_s": round(min(r["seconds"] for r in runs), 3),
        "bars_per_s": round(bars / seconds),
        "peak_rss_mb": round(statistics.median(r["peak_mb"] for r in runs)),
        "target_s": TARGETS[copies],
        "ratio_to_target": round(seconds / TARGETS[copies], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--repeats-10x", type=int, default=3)
    parser.add_argument("--contract", default=NEWEST, choices=sorted(CONTRACTS))
    parser.add_argument("--smoke", action="store_true", help="smallest mode: 3 synthetic months, one run")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        root, start, end, version = args.one
        print(json.dumps(run_once(Path(root), date.fromisoformat(start), date.fromisoformat(end), version)))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.smoke:
        args.repeats, args.repeats_10x = 1, 0
    data = "synthetic (smoke)" if args.smoke else "real" if find_real_data() else "synthetic"
    for copies, repeats in ((1, args.repeats), (10, args.repeats_10x)):
        if repeats < 1:
            continue
        row = measure(copies, repeats, args.contract, args.smoke)
        sys.stdout.write(f"{data} x{copies}: " + json.dumps(row) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
