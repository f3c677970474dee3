"""The public API of the feature store for its consumers (the trainer): everything `train` may use.

`train` reads data only through this module: snapshots, the stored candles as Arrow, the online featurizer
and the pipeline steps a full-year verification drives. It never opens the DuckDB file itself; the linter
bans `duckdb` and the store's internal modules inside `train/` (see `train/ruff.toml`).

Usage::

    store = Store.at("./fsdata")
    snapshot = open_snapshot(store, "7b03...")
    candles = stored_candles(store, "XAUUSD", "M5")
    part = ingest_part(store, path, header + new_lines, options, line_shift=41, after=newest_ts)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from featurestore.compute.funnel import funnel_stages, is_monotone
from featurestore.compute.materialize import MaterializeConfig, materialize, read_blocked_intervals
from featurestore.compute.online import DECISION_TABLES, featurize_window, stored_candles
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.ingest.ingest_file import IngestOptions, IngestResult, ingest_data, ingest_file
from featurestore.store.candles import SLICE_COLUMNS
from featurestore.store.handle import Store, utc_day_range
from featurestore.store.snapshots import Snapshot, open_snapshot

__all__ = [
    "DECISION_TABLES",
    "SLICE_COLUMNS",
    "IngestOptions",
    "IngestPart",
    "IngestResult",
    "MaterializeConfig",
    "Snapshot",
    "Store",
    "ValidateConfig",
    "featurize_window",
    "funnel_stages",
    "ingest_file",
    "ingest_part",
    "is_monotone",
    "materialize",
    "open_snapshot",
    "read_blocked_intervals",
    "stored_candles",
    "utc_day_range",
    "validate",
]


@dataclass(frozen=True)
class IngestPart:
    """What one ingest of a part of a growing source stored, and the stored bars after `after`."""

    result: IngestResult
    candles: pa.Table  # SLICE_COLUMNS of the stored bars from the part's first on, or after `after`
    rejected: tuple[tuple[int, datetime | None, str], ...]  # (line, ts, reason) of this ingest's rejects


def ingest_part(
    store: Store,
    path: Path,
    data: bytes,
    options: IngestOptions,
    *,
    line_shift: int,
    after: datetime | None,
    wait: float | None = None,
) -> IngestPart:
    """Ingest `data` (a source's header and some of its lines, whose first line number is shifted by
    `line_shift`) with the checks of `fs ingest`, and read back the stored bars from the part's first bar
    or newer than `after` (all of them when None), under one short hold of the store's lock (waiting up to
    `wait` s for another process's)."""
    with store.connect(wait=wait) as con:
        result, _ = ingest_data(con, path, data, options, line_shift=line_shift)
        # the bars of this part (revised ones included) and every stored bar after `after`
        first = None if result.first_ts is None else result.first_ts.replace(tzinfo=None)
        cutoff = "AND (ts > ? OR ts >= ?) " if after is not None else ""
        params = [result.symbol, result.timeframe] + ([after, first or after] if after is not None else [])
        candles = con.sql(
            f"SELECT {', '.join(SLICE_COLUMNS)} FROM candles WHERE symbol = ? AND timeframe = ? {cutoff}"
            "ORDER BY ts",
            params=params,
        ).to_arrow_table()
        rejected: list[tuple[int, datetime | None, str]] = []
        if result.ingest_id is not None and not result.already_ingested:
            rejected = con.execute(
                "SELECT line, ts, reason FROM candles_rejected WHERE ingest_id = ? ORDER BY line",
                [result.ingest_id],
            ).fetchall()
    return IngestPart(result, candles, tuple(rejected))
