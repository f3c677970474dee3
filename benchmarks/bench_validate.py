"""Benchmark the validation gate (Pandera + relational checks + feature health) and the data docs build.

Prints medians for a year of M5 tables and for 10x (the year tiled with timestamps shifted by whole weeks),
the first (cold) call separately, and the ratio to the DESIGN section 14 targets (gate under 1 s for a
year; data docs under 15 s).

    python benchmarks/bench_validate.py [--repeats 5] [--skip-docs]
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

from featurestore.app.demo import REAL_RANGE, SYNTHETIC, SYNTHETIC_RANGE, find_real_data
from featurestore.app.synthetic import generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store, utc_day_range
from schemas.contract import CONTRACT
from validation.gate import validate_tables

TILE_WEEKS = 44


def year_tables(root: Path) -> dict[str, pl.DataFrame]:
    source = find_real_data()
    start, end = REAL_RANGE
    if source is None:
        source, (start, end) = write_mt5_tsv(generate_candles(SYNTHETIC), root / "s.tsv"), SYNTHETIC_RANGE
    store = Store.at(root / "store")
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    materialize(store, MaterializeConfig("XAUUSD", start, end))
    lo, hi = utc_day_range(start, end)
    with store.connect(read_only=True) as con:
        names = ", ".join(CONTRACT.candles.names)
        out = {
            "candles": pl.from_arrow(
                con.sql(
                    f"SELECT {names} FROM candles WHERE ts >= ? AND ts < ? ORDER BY ts", params=[lo, hi]
                ).to_arrow_table()
            )
        }
        for t in CONTRACT.tables:
            out[t.name] = pl.from_arrow(
                con.sql(
                    f"SELECT * FROM {t.name} WHERE ts >= ? AND ts < ? ORDER BY ts", params=[lo, hi]
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


def time_gate(tables: dict[str, pl.DataFrame], repeats: int) -> dict[str, float]:
    began = time.perf_counter()
    report = validate_tables(tables, expected_rows=tables["candles"].height)
    cold = time.perf_counter() - began
    warm = []
    for _ in range(repeats):
        began = time.perf_counter()
        validate_tables(tables, expected_rows=tables["candles"].height)
        warm.append(time.perf_counter() - began)
    return {
        "rows": tables["context"].height,
        "ok": report.ok,
        "cold_s": round(cold, 3),
        "median_s": round(statistics.median(warm), 3),
        "target_s": 1.0,
        "ratio_to_target": round(statistics.median(warm), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        year = year_tables(Path(tmp))
        sys.stdout.write("gate x1:  " + json.dumps(time_gate(year, args.repeats)) + "\n")
        ten = tiled(year, 10)
        result = time_gate(ten, max(1, args.repeats // 2))
        result.update(target_s=10.0, ratio_to_target=round(result["median_s"] / 10.0, 2))
        sys.stdout.write(
            "gate x10: " + json.dumps(result) + "  (10x has no target; 1 s/year scales to 10 s)\n"
        )
        if not args.skip_docs:
            from validation.data_docs import build_data_docs

            runs = []
            for k in range(args.repeats // 2 + 1):
                began = time.perf_counter()
                build_data_docs(
                    Path(tmp) / f"validation{k}", f"{k:020x}", {n: f.to_arrow() for n, f in year.items()}
                )
                runs.append(time.perf_counter() - began)
            docs = {
                "median_s": round(statistics.median(runs), 2),
                "runs": len(runs),
                "target_s": 15.0,
                "ratio_to_target": round(statistics.median(runs) / 15.0, 2),
            }
            sys.stdout.write("data docs x1: " + json.dumps(docs) + "\n")


if __name__ == "__main__":
    main()
