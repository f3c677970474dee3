"""Benchmark `fs contract check v2` on a year of M5 bars (print, never assert).

Builds a store from the real 2025 export (or the synthetic year where it is absent), then runs the default
check (5 cuts, seed 7) `--repeats` times in-process and prints the median wall time, the median CPU time
of the process (all its threads), the median seconds of each audit, and the ratio of the wall median to
the 60 s target. `--cores 2` pins the process to two cores (for machines with more); the 1-minute load
average is printed beside, since a shared machine's wall time is only meaningful with it.

    python benchmarks/bench_contract_check.py [--repeats 3] [--cores 2] [--store DIR]
    python benchmarks/bench_contract_check.py --smoke

`--smoke` is the smallest mode: the check with one cut, once, on three months of synthetic candles (even
where real data exists) in a temporary store; it shows the script works, not the target.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from smoke_inputs import SMOKE_RANGE, smoke_store

from featurestore.app.demo import SYNTHETIC, find_real_data
from featurestore.app.synthetic import generate_candles, write_mt5_tsv
from featurestore.compute.contract_check import CheckConfig, check_contract
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from schemas.versions import CONTRACT_V2

logger = logging.getLogger("bench_contract_check")
TARGET_S = 60.0


def year_store(root: Path) -> tuple[Store, str]:
    source, kind = find_real_data(), "real"
    if source is None:
        source, kind = write_mt5_tsv(generate_candles(SYNTHETIC), root / "synthetic.tsv"), "synthetic"
    store = Store.at(root / "store")
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    return store, kind


class StageClock:
    """Seconds spent in each stage the check reports through `on_stage`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.current: str | None = None
        self.since = time.perf_counter()

    def stage(self, name: str | None) -> None:
        now = time.perf_counter()
        if self.current is not None:
            self.seconds[self.current] = now - self.since
        self.current, self.since = name, now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=None, help="pin the process to this many cores")
    parser.add_argument(
        "--store", type=Path, default=None, help="a store holding the year (default: build one)"
    )
    parser.add_argument("--smoke", action="store_true", help="smallest mode: 3 months, 1 cut, one run")
    args = parser.parse_args()
    if args.smoke:
        smoke()
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.cores:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    with tempfile.TemporaryDirectory() as tmp:
        store, kind = (Store.at(args.store), "given") if args.store else year_store(Path(tmp))
        walls, cpus, stages = [], [], []
        for _ in range(args.repeats):
            clock = StageClock()
            load = os.getloadavg()[0]
            wall, cpu = time.perf_counter(), time.process_time()
            result = check_contract(store, CONTRACT_V2, CheckConfig("XAUUSD"), on_stage=clock.stage)
            clock.stage(None)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            stages.append(clock.seconds)
            logger.info(
                "run: %.1f s wall, %.1f s CPU, load %.1f, %s",
                walls[-1],
                cpus[-1],
                load,
                result.audit.summary(),
            )
    cores = len(os.sched_getaffinity(0))
    logger.info("data: %s year, %d bars, %d cores", kind, result.audit.bars, cores)
    for name in stages[0]:
        logger.info("  %-22s median %.1f s", name, statistics.median(s[name] for s in stages))
    wall = statistics.median(walls)
    logger.info(
        "fs contract check v2: median wall %.1f s, CPU %.1f s over %d runs; ratio to the %.0f s target %.2f",
        wall,
        statistics.median(cpus),
        len(walls),
        TARGET_S,
        wall / TARGET_S,
    )


def smoke() -> None:
    """One check of v2 with one cut on the smoke store; prints a JSON line of its figures."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = smoke_store(Path(tmp))
        clock = StageClock()
        wall, cpu = time.perf_counter(), time.process_time()
        config = CheckConfig("XAUUSD", start=SMOKE_RANGE[0], end=SMOKE_RANGE[1], cuts=1)
        result = check_contract(store, CONTRACT_V2, config, on_stage=clock.stage)
        clock.stage(None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    row = {
        "runs": 1,
        "bars": result.audit.bars,
        "median_wall_s": round(wall, 2),
        "median_cpu_s": round(cpu, 2),
        "stage_s": {name: round(s, 2) for name, s in clock.seconds.items()},
        "target_s": TARGET_S,
        "ratio_to_target": round(wall / TARGET_S, 2),
    }
    sys.stdout.write(f"synthetic (smoke) fs contract check v2, 1 cut: {json.dumps(row)}\n")


if __name__ == "__main__":
    main()
