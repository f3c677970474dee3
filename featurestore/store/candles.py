"""Reading the store's candles: the slice a materialize run (and its lineage check) computes from, and the
columns the contract's SQL sees."""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from schemas.contract import Contract

SLICE_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "tick_volume", "spread")


def load_candle_slice(
    con: duckdb.DuckDBPyConnection,
    symbol: str,
    timeframe: str,
    start: datetime,
    end: datetime,
    contract: Contract,
) -> pa.Table:
    """Bars of [start, end) plus `warmup_bars` bars before and the label margin after, ordered by ts."""
    key = [symbol, timeframe]
    stamps = con.sql(
        "SELECT ts FROM candles WHERE symbol = ? AND timeframe = ? ORDER BY ts", params=key
    ).fetchnumpy()["ts"]
    first = max(int(np.searchsorted(stamps, np.datetime64(start, "us"))) - contract.warmup_bars, 0)
    last = int(np.searchsorted(stamps, np.datetime64(end, "us"))) + contract.label_margin_bars - 1
    if len(stamps) == 0 or first >= len(stamps):
        return con.sql(f"SELECT {', '.join(SLICE_COLUMNS)} FROM candles LIMIT 0").to_arrow_table()
    lo, hi = stamps[first], stamps[min(last, len(stamps) - 1)]
    return con.sql(
        f"SELECT {', '.join(SLICE_COLUMNS)} FROM candles WHERE symbol = ? AND timeframe = ? "
        "AND ts >= ? AND ts <= ? ORDER BY ts",
        params=[*key, lo.astype("datetime64[us]").item(), hi.astype("datetime64[us]").item()],
    ).to_arrow_table()
