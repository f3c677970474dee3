"""Benchmark `fs status` on a store holding a year of tables (print, never assert).

Prints the median wall time of `fs status --json` as a fresh process (what a user waits for, Python start
included) and of `store_status()` in-process, and their ratio to the 1 s target.

    python benchmarks/bench_status.py [--store PATH] [--repeats 5] [--smoke]

Without --store it builds one in a temporary folder as `fs demo` does (ingest, materialize, validate): on the
real export where the demo finds it (`$FS_DEMO_DATA` names its folder), else on the synthetic demo candles.
`--smoke` is the smallest mode: three months of synthetic candles (even where real data exists) in a
temporary store, one run; it shows the script works, not the target.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smoke_inputs import smoke_store

from featurestore.app.demo import choose_demo_data, run_demo
from featurestore.store.handle import Store
from featurestore.store.status import store_status

logger = logging.getLogger("bench_status")
TARGET_S = 1.0


def build_store(root: Path, smoke: bool) -> tuple[Store, str]:
    """A store under `root` with the demo's (or the smoke) candles ingested, materialized and validated."""
    if smoke:
        return smoke_store(root)[0], "synthetic (smoke)"
    store = Store.at(root / "store")
    data = choose_demo_data(store)
    run_demo(store, data)
    return store, data.kind


def measure(store: Store, repeats: int) -> dict:
    """Wall times of `fs status --json` (a fresh process) and of `store_status()`, and what it reported."""
    cli, lib = [], []
    report: dict = {}
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "featurestore.app.cli", "status", "--json", "--store", str(store.root)],
            check=True,
            capture_output=True,
        )
        cli.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = store_status(store)
        lib.append(time.perf_counter() - started)
    return {
        "cli": cli,
        "lib": lib,
        "parts": sum(len(s["materialized"]) for s in report["symbols"].values()),
        "snapshots": sum(len(s["snapshots"]) for s in report["symbols"].values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, help="an existing store (default: build one, see above)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="smallest mode: 3 synthetic months, one run")
    args = parser.parse_args()
    if args.smoke and args.store is not None:
        parser.error("--smoke builds its own temporary store: leave out --store")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        if args.store is not None:
            store, data = Store.at(args.store), str(args.store)
        else:
            store, data = build_store(Path(tmp), args.smoke)
        found = measure(store, 1 if args.smoke else args.repeats)
    timed = (("fs status --json (process)", found["cli"]), ("store_status() in-process", found["lib"]))
    for name, times in timed:
        median = statistics.median(times)
        sys.stdout.write(
            f"{data}: {name:<28} median {median:.3f} s over {len(times)} ({found['parts']} parts, "
            f"{found['snapshots']} snapshots); ratio to the {TARGET_S:.0f} s target {median / TARGET_S:.2f}\n"
        )


if __name__ == "__main__":
    main()
