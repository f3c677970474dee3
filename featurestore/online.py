"""The online (single-bar) featurizer: the features of the newest bar from the last candles only.

It runs the same SQL files as `fs materialize` (through `run_pipeline`) on the last `warmup_bars + 1`
candles, so a live system and the training data compute every feature identically; a parity test checks
the two against each other on the real data. Labels are not produced: they need the future.

Usage::

    with store.connect(read_only=True) as con:
        rows = featurize_at(con, "XAUUSD", datetime(2025, 9, 3, 14, 25))
    rows["snap_features"]["rsi_14"], rows["eligibility"]["reason"]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from featurestore.errors import MaterializeError
from featurestore.pipeline import SLICE_COLUMNS, run_pipeline
from schemas.contract import CONTRACT, Contract

DECISION_TABLES = ("context", "seq_features", "snap_features", "eligibility")


def featurize_window(
    candles: pa.Table,
    rows: int = 1,
    *,
    blocked_intervals: Sequence[tuple[datetime, datetime]] = (),
    contract: Contract = CONTRACT,
) -> dict[str, pa.Table]:
    """Decision-time tables (context, sequence, snapshot features, eligibility) of the LAST `rows` bars.

    `candles` holds one symbol's bars ordered by ts (columns SLICE_COLUMNS). Only the last
    `warmup_bars + rows` of them are read: that is all the history the newest `rows` bars need. A bar with
    fewer than `warmup_bars` earlier bars is HARD_WARMUP with null features, exactly as materialized.
    """
    if candles.num_rows == 0:
        raise MaterializeError("no candles given: the online featurizer needs the last bars of a symbol")
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    window = candles.slice(max(candles.num_rows - contract.warmup_bars - rows, 0))
    ts = window.column("ts")
    first = ts[max(window.num_rows - rows, 0)].as_py()
    step = timedelta(minutes=int(contract.parameters["timeframe_minutes"]))
    return run_pipeline(
        window,
        first,
        ts[-1].as_py() + step,
        blocked_intervals=blocked_intervals,
        contract=contract,
        tables=DECISION_TABLES,
    )


def featurize_latest(
    candles: pa.Table,
    *,
    blocked_intervals: Sequence[tuple[datetime, datetime]] = (),
    contract: Contract = CONTRACT,
) -> dict[str, dict[str, Any]]:
    """The decision-time rows of the newest bar of `candles`, one dict per table (see featurize_window)."""
    tables = featurize_window(candles, 1, blocked_intervals=blocked_intervals, contract=contract)
    return {name: table.to_pylist()[0] for name, table in tables.items()}


def featurize_at(
    con: duckdb.DuckDBPyConnection,
    symbol: str,
    at: datetime,
    *,
    timeframe: str = "M5",
    contract: Contract = CONTRACT,
) -> dict[str, dict[str, Any]]:
    """Read the last `warmup_bars + 1` stored candles with ts <= `at` and featurize the newest of them."""
    candles = con.sql(
        f"SELECT {', '.join(SLICE_COLUMNS)} FROM ("
        f"SELECT {', '.join(SLICE_COLUMNS)} FROM candles WHERE symbol = ? AND timeframe = ? AND ts <= ? "
        "ORDER BY ts DESC LIMIT ?) ORDER BY ts",
        params=[symbol, timeframe, at, contract.warmup_bars + 1],
    ).to_arrow_table()
    return featurize_latest(candles, contract=contract)
