"""Benchmark the validation gate (Pandera + relational checks + feature health) and the data docs build.

Prints medians for a year of M5 tables and for 10x (the year tiled with timestamps shifted by whole weeks),
the first (cold) call separately, and the ratio to the targets (gate under 1 s for a year on 2 cores; data
docs under 15 s). The tables are those of `--contract` (default: the newest version, as `fs materialize`).

    python benchmarks/bench_validate.py [--repeats 5] [--skip-docs] [--contract v1|v2] [--smoke]

Uses the real export where the demo finds it (`$FS_DEMO_DATA` names its folder), else the synthetic demo
candles. `--smoke` is the smallest mode: three months of synthetic candles (even where real data exists),
one run, no 10x, one data docs build; it shows the script works, not the targets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from smoke_inputs import smoke_data

from featurestore.app.demo import REAL_RANGE, SYNTHETIC, SYNTHETIC_RANGE, find_real_data
from featurestore.app.synthetic import generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store, utc_day_range
from featurestore.store.versions import stored_table
from schemas.contract import Contract
from schemas.versions import CONTRACTS, NEWEST, contract_for
from validation.gate import validate_tables

TILE_WEEKS = 44
GATE_TARGET_S, DOCS_TARGET_S = 1.0, 15.0


def year_tables(root: Path, contract: Contract, smoke: bool) -> dict[str, pl.DataFrame]:
    """Candles and the materialized tables of `contract` (read from the store's tables of that version)."""
    source = None if smoke else find_real_data()
    start, end = REAL_RANGE
    if smoke:
        data = smoke_data(root / "source")
        source, (start, end) = data.source_file, (data.start, data.end)
    elif source is None:
        source, (start, end) = write_mt5_tsv(generate_candles(SYNTHETIC), root / "s.tsv"), SYNTHETIC_RANGE
    store = Store.at(root / "store")
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    materialize(store, MaterializeConfig("XAUUSD", start, end), contract=contract)
    lo, hi = utc_day_range(start, end)
    with store.connect(read_only=True) as con:
        names = ", ".join(contract.candles.names)
        out = {
            "candles": pl.from_arrow(
                con.sql(
                    f"SELECT {names} FROM candles WHERE ts >= ? AND ts < ? ORDER BY ts", params=[lo, hi]
                ).to_arrow_table()
            )
        }
        for t in contract.tables:
            out[t.name] = pl.from_arrow(
                con.sql(
                    f"SELECT * FROM {stored_table(contract, t)} WHERE ts >= ? AND ts < ? ORDER BY ts",
                    params=[lo, hi],
                ).to_arrow_table()
            )
    return out


def tiled(tables: dict[str, pl.DataFrame], copies: int) -> dict[str, pl.DataFrame]:
    shift = [pl.col("ts") + pl.duration(weeks=TILE_WEEKS * k) for k in range(copies)]
    out = {}
    for name, frame in tables.items():
        parts = [frame.with_columns(s.alias("ts")) for s in shift]
        if "t1" in frame.columns:
            parts = [
                p.with_columns(pl.col("t1") + pl.duration(weeks=TILE_WEEKS * k)) for k, p in enumerate(parts)
            ]
        out[name] = pl.concat(parts)
    return out


def time_gate(tables: dict[str, pl.DataFrame], repeats: int, contract: Contract) -> dict[str, float]:
    began = time.perf_counter()
    report = validate_tables(tables, expected_rows=tables["candles"].height, contract=contract)
    cold = time.perf_counter() - began
    warm = []
    for _ in range(repeats):
        began = time.perf_counter()
        validate_tables(tables, expected_rows=tables["candles"].height, contract=contract)
        warm.append(time.perf_counter() - began)
    return {
        "contract": contract.version,
        "rows": tables["context"].height,
        "ok": report.ok,
        "cold_s": round(cold, 3),
        "runs": repeats,
        "median_s": round(statistics.median(warm), 3),
        "target_s": GATE_TARGET_S,
        "ratio_to_target": round(statistics.median(warm) / GATE_TARGET_S, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-docs", action="store_true")
    parser.add_argument("--contract", default=NEWEST, choices=sorted(CONTRACTS))
    parser.add_argument("--smoke", action="store_true", help="smallest mode: 3 synthetic months, one run")
    args = parser.parse_args()
    if args.smoke:
        args.repeats = 1
    contract = contract_for(args.contract)
    data = "synthetic (smoke)" if args.smoke else "real" if find_real_data() else "synthetic"
    with tempfile.TemporaryDirectory() as tmp:
        year = year_tables(Path(tmp), contract, args.smoke)
        sys.stdout.write(f"{data} gate x1:  " + json.dumps(time_gate(year, args.repeats, contract)) + "\n")
        sys.stdout.flush()
        if not args.smoke:
            ten = tiled(year, 10)
            result = time_gate(ten, max(1, args.repeats // 2), contract)
            result.update(target_s=10.0, ratio_to_target=round(result["median_s"] / 10.0, 2))
            sys.stdout.write(
                f"{data} gate x10: " + json.dumps(result) + "  (10x has no target; 1 s/year scales to 10 s)\n"
            )
            sys.stdout.flush()
        if not args.skip_docs:
            from validation.data_docs import build_data_docs

            runs = []
            for k in range(args.repeats // 2 + 1):
                began = time.perf_counter()
                build_data_docs(
                    Path(tmp) / f"validation{k}",
                    f"{k:020x}",
                    {n: f.to_arrow() for n, f in year.items()},
                    contract,
                )
                runs.append(time.perf_counter() - began)
            docs = {
                "contract": contract.version,
                "median_s": round(statistics.median(runs), 2),
                "runs": len(runs),
                "target_s": DOCS_TARGET_S,
                "ratio_to_target": round(statistics.median(runs) / DOCS_TARGET_S, 2),
            }
            sys.stdout.write(f"{data} data docs x1: " + json.dumps(docs) + "\n")


if __name__ == "__main__":
    main()
