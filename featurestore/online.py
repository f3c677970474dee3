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


def featurize_latest(
    candles: pa.Table,
    *,
    blocked_intervals: Sequence[tuple[datetime, datetime]] = (),
    contract: Contract = CONTRACT,
) -> dict[str, dict[str, Any]]:
    """Decision-time rows (context, sequence, snapshot features, eligibility) of the LAST bar of `candles`.

    `candles` holds one symbol's bars ordered by ts (columns SLICE_COLUMNS); with fewer than
    `warmup_bars + 1` of them the bar is HARD_WARMUP and its features are null, exactly as materialized.
    """
    if candles.num_rows == 0:
        raise MaterializeError("no candles given: the online featurizer needs the last bars of a symbol")
    window = candles.slice(max(candles.num_rows - contract.warmup_bars - 1, 0))
    last = window.column("ts")[-1].as_py()
    step = timedelta(minutes=int(contract.parameters["timeframe_minutes"]))
    tables = run_pipeline(window, last, last + step, blocked_intervals=blocked_intervals, contract=contract)
    return {name: tables[name].to_pylist()[0] for name in DECISION_TABLES}


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
