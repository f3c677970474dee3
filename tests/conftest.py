"""Shared fixtures: synthetic candle slices (fast) and the shared real data (slow; skipped where absent)."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from featurestore.app.synthetic import SyntheticConfig, generate_candles

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REAL_M5 = SHARED_DATA / "xauusd_m5_2025_mt5.tsv"


_TABLE_REF = re.compile(
    r"\b(FROM|UPDATE|INTO|TABLE|JOIN)\s+(context|seq_features|snap_features|eligibility|labels)\b", re.I
)


def stored(sql: str) -> str:
    """`sql` with each materialized table named as the store holds it under the default contract (v2
    prefixes its tables: `v2_context`), so a test can write the contract's table names."""
    from featurestore.store.versions import stored_table
    from schemas.versions import DEFAULT_CONTRACT

    def name(match: re.Match[str]) -> str:
        return f"{match.group(1)} {stored_table(DEFAULT_CONTRACT, DEFAULT_CONTRACT.table(match.group(2)))}"

    return _TABLE_REF.sub(name, sql)


def real_m5_or_skip() -> Path:
    if not REAL_M5.is_file():
        pytest.skip(f"real data not found at {REAL_M5}: these tests need the shared XAUUSD M5 export")
    return REAL_M5


def slice_from_frame(frame, symbol: str = "XAUUSD", point_size: float = 0.01) -> pa.Table:
    """A candles slice (pipeline input) from a synthetic frame."""
    import polars as pl

    out = frame.select(
        pl.lit(symbol).alias("symbol"),
        pl.col("ts"),
        "open",
        "high",
        "low",
        "close",
        pl.col("tick_volume").cast(pl.Int64),
        (pl.col("spread_points") * point_size).alias("spread"),
    )
    return out.to_arrow()


@pytest.fixture(scope="session")
def synthetic_slice() -> pa.Table:
    """About 7 weeks of synthetic M5 bars: 4 weeks of warmup, then 3 weeks of complete rows."""
    return slice_from_frame(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 2, 20), seed=11))
    )


SYNTH_START = datetime(2025, 2, 3)
SYNTH_END = datetime(2025, 2, 20)
