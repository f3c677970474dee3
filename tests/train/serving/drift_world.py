"""Helpers of the drift tests: decision-time features of a candle series (the batch path), planted changes,
and live windows slid over a period."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pyarrow as pa

from featurestore.api import DECISION_TABLES, featurize_window
from schemas.versions import DEFAULT_CONTRACT
from train.fitting.dataset import join_tables
from train.serving.drift import DriftReference, check_window


def features(candles: pa.Table, start: datetime) -> pl.DataFrame:
    """The eligible decision rows from `start` on (every bar with its own history, one batch)."""
    ts = candles.column("ts").to_numpy()
    rows = int((ts >= np.datetime64(start)).sum())
    tables = featurize_window(candles, rows, contract=DEFAULT_CONTRACT)
    frame = join_tables({name: tables[name] for name in DECISION_TABLES}, "batch")
    return frame.filter(pl.col("reason") == "ELIGIBLE")


def monitored(frame: pl.DataFrame) -> list[str]:
    """The numeric model inputs a live decision records (context, sequence and snapshot features)."""
    contract = DEFAULT_CONTRACT
    names = [
        c.name for t in ("context", "seq_features", "snap_features") for c in contract.feature_columns(t)
    ]
    return [n for n in dict.fromkeys(names) if n in frame.columns and frame[n].dtype.is_numeric()]


def spread_times(candles: pa.Table, start: datetime, factor: float) -> pa.Table:
    """The spread multiplied by `factor` from `start` on."""
    frame = pl.from_arrow(candles)
    after = pl.col("ts") >= start
    return frame.with_columns(
        pl.when(after).then(pl.col("spread") * factor).otherwise(pl.col("spread"))
    ).to_arrow()


def volatility_times(candles: pa.Table, start: datetime, factor: float) -> pa.Table:
    """Log returns multiplied by `factor` from `start` on: price x -> p0 * (x / p0) ** factor, with p0 the
    last close before `start` (monotone, so every bar stays a valid OHLC bar)."""
    frame = pl.from_arrow(candles)
    p0 = frame.filter(pl.col("ts") < start)["close"][-1]
    after = pl.col("ts") >= start
    return frame.with_columns(
        pl.when(after).then(p0 * (pl.col(c) / p0) ** factor).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close")
    ).to_arrow()


def windows(reference: DriftReference, rows: pl.DataFrame, step: int | None = None) -> list[list[dict]]:
    """The checks of consecutive live windows of `reference.window` eligible rows over `rows`."""
    size = reference.window
    step = step or size
    out = []
    for end in range(size, rows.height + 1, step):
        part = rows.slice(end - size, size)
        values = {n: part[n].cast(pl.Float64).fill_null(np.nan).to_numpy() for n in reference.columns}
        out.append(check_window(reference, values))
    return out


def alarmed(checks: list[dict]) -> set[str]:
    return {c["input"] for c in checks if c["alarm"]}
