"""Benchmark `fs status` on a store holding the real year (DESIGN section 14 style: print, never assert).

Prints the median wall time of `fs status --json` as a fresh process (what a user waits for, Python start
included) and of `store_status()` in-process, and their ratio to the 1 s target.

    python benchmarks/bench_status.py --store /tmp/year-store [--repeats 5]

Build the store first, e.g. `fs ingest ../shared/data/xauusd_m5_2025_mt5.tsv --symbol XAUUSD --format mt5
--source-tz EET` then `fs materialize --date-range 2025-01-06..2025-12-30 --symbol XAUUSD` (and validate).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

from featurestore.store.handle import Store
from featurestore.store.status import store_status

logger = logging.getLogger("bench_status")
TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cli, lib = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "featurestore.app.cli", "status", "--json", "--store", str(args.store)],
            check=True,
            capture_output=True,
        )
        cli.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = store_status(Store.at(args.store))
        lib.append(time.perf_counter() - started)
    parts = sum(len(s["materialized"]) for s in report["symbols"].values())
    snaps = sum(len(s["snapshots"]) for s in report["symbols"].values())
    for name, times in (("fs status --json (process)", cli), ("store_status() in-process", lib)):
        median = statistics.median(times)
        logger.info(
            "%-28s median %.3f s over %d (%d parts, %d snapshots); ratio to the %.0f s target %.2f",
            name,
            median,
            len(times),
            parts,
            snaps,
            TARGET_S,
            median / TARGET_S,
        )


if __name__ == "__main__":
    main()
