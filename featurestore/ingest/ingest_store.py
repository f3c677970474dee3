"""The write side of an ingest: compare with stored bars, then store everything in one transaction.

Bars at a timestamp already stored for the symbol and timeframe are "same" when every value agrees
within 1e-9 (tick volume exactly), else a conflict. Conflicts are refused (``ConflictError``, nothing
written) unless the caller asked to keep the stored bars or to replace them. Good bars, rejected rows
and the ``ingest_log`` row are written together or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from featurestore.errors import ConflictError
from featurestore.store.lineage import mark_stale

ON_CONFLICT = ("refuse", "keep-existing", "replace")
TOLERANCE = 1e-9
EXAMPLES = 5
_COMPARED = ("open", "high", "low", "close", "spread")


@dataclass(frozen=True)
class IngestBatch:
    """What one ingest stores. `log` holds the ``ingest_log`` columns known before writing."""

    path: Path
    symbol: str
    timeframe: str
    bars: pl.DataFrame  # ts, open, high, low, close, tick_volume, spread, line
    rejected: pl.DataFrame  # line, ts, reason, raw
    record_word: str
    on_conflict: str
    log: dict[str, Any]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class StoredIngest:
    """What the write did: the new ingest id, bar counts, and the warnings as logged."""

    ingest_id: int
    rows_new: int  # bars written: new timestamps, plus replaced ones with on_conflict="replace"
    rows_already_stored: int
    warnings: tuple[str, ...]


def previous_ingest(con: duckdb.DuckDBPyConnection, symbol: str, sha256: str) -> dict[str, Any] | None:
    """The ``ingest_log`` row of an earlier ingest of the same file for `symbol`, plus its `examples`."""
    cursor = con.execute(
        "SELECT * FROM ingest_log WHERE symbol = ? AND source_sha256 = ? ORDER BY ingest_id LIMIT 1",
        [symbol, sha256],
    )
    rows = cursor.fetchall()
    if not rows:
        return None
    row = dict(zip([column[0] for column in cursor.description or []], rows[0], strict=True))
    row["examples"] = con.execute(
        "SELECT line, reason FROM candles_rejected WHERE ingest_id = ? ORDER BY line LIMIT ?",
        [row["ingest_id"], EXAMPLES],
    ).fetchall()
    return row


def store_ingest(con: duckdb.DuckDBPyConnection, batch: IngestBatch) -> StoredIngest:
    """Write `batch` in one transaction.

    Raises:
        ConflictError: bars differ from stored ones and `batch.on_conflict` is "refuse"; nothing written.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        ingest_id = int(
            con.execute("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingest_log").fetchall()[0][0]
        )
        compared = _compare_with_store(con, batch)
        new, same, conflicts = (compared.filter(pl.col("status") == s) for s in ("new", "same", "conflict"))
        warnings = list(batch.warnings)
        if not conflicts.is_empty():
            if batch.on_conflict == "refuse":
                raise ConflictError(_conflict_message(batch, conflicts))
            warnings.append(_conflict_note(conflicts, batch.on_conflict))
        written = pl.concat([new, conflicts]) if batch.on_conflict == "replace" else new
        _run_over(
            con,
            "fs_ingest_bars",
            written.select("ts", *_COMPARED, "tick_volume"),
            "INSERT OR REPLACE INTO candles (symbol, timeframe, ts, open, high, low, close, spread, "
            "tick_volume, ingest_id) SELECT $symbol, $timeframe, *, $ingest_id FROM fs_ingest_bars",
            {"symbol": batch.symbol, "timeframe": batch.timeframe, "ingest_id": ingest_id},
        )
        _run_over(
            con,
            "fs_ingest_rejected",
            batch.rejected.select("line", "ts", "reason", "raw"),
            "INSERT INTO candles_rejected (ingest_id, symbol, source_file, line, ts, reason, raw) "
            "SELECT $ingest_id, $symbol, $file, * FROM fs_ingest_rejected",
            {"ingest_id": ingest_id, "symbol": batch.symbol, "file": batch.log["source_file"]},
        )
        stale = mark_stale(con, batch.symbol, batch.timeframe, ingest_id, written["ts"].to_numpy())
        if stale:
            warnings.append(
                f"{stale} materialized run(s) read bars this ingest wrote: their ranges are stale until "
                "materialized again (see `fs status`)"
            )
        stored = StoredIngest(ingest_id, written.height, same.height, tuple(warnings))
        _insert_log(con, batch, stored)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return stored


def _compare_with_store(con: duckdb.DuckDBPyConnection, batch: IngestBatch) -> pl.DataFrame:
    """The batch's bars with the stored bar at the same ts (``stored_*``) and a status."""
    bars = batch.bars
    stored = con.sql(
        "SELECT ts, open AS stored_open, high AS stored_high, low AS stored_low, close AS stored_close, "
        "spread AS stored_spread, tick_volume AS stored_tick_volume, ingest_id AS stored_ingest_id "
        "FROM candles WHERE symbol = ? AND timeframe = ? AND ts BETWEEN ? AND ?",
        params=[batch.symbol, batch.timeframe, bars["ts"].min(), bars["ts"].max()],
    ).pl()
    joined = bars.join(stored.with_columns(pl.col("ts").cast(bars["ts"].dtype)), on="ts", how="left")
    equal = [
        ((pl.col(name) - pl.col(f"stored_{name}")).abs() <= TOLERANCE)
        | (pl.col(name).is_null() & pl.col(f"stored_{name}").is_null())
        for name in _COMPARED
    ]
    equal.append(pl.col("tick_volume").eq_missing(pl.col("stored_tick_volume")))
    return joined.with_columns(
        status=pl.when(pl.col("stored_ingest_id").is_null())
        .then(pl.lit("new"))
        .when(pl.all_horizontal(e.fill_null(False) for e in equal))
        .then(pl.lit("same"))
        .otherwise(pl.lit("conflict"))
    )


def _describe(bar: dict[str, Any], prefix: str) -> str:
    prices = "/".join(f"{bar[prefix + name]:g}" for name in ("open", "high", "low", "close"))
    return f"o/h/l/c {prices} spread {bar[prefix + 'spread']} tick_volume {bar[prefix + 'tick_volume']}"


def _conflict_message(batch: IngestBatch, conflicts: pl.DataFrame) -> str:
    examples = [
        f"  {bar['ts']:%Y-%m-%d %H:%M} UTC: stored (ingest #{bar['stored_ingest_id']}) "
        f"{_describe(bar, 'stored_')} vs new ({batch.record_word} {bar['line']}) {_describe(bar, '')}"
        for bar in conflicts.head(EXAMPLES).iter_rows(named=True)
    ]
    return (
        f"{batch.path}: {conflicts.height} bar(s) differ from bars already stored for {batch.symbol} "
        f"{batch.timeframe}; nothing was written. First conflicts:\n"
        + "\n".join(examples)
        + "\n  how to fix: pass --on-conflict keep-existing to keep the stored bars, "
        "or --on-conflict replace to overwrite them with this file's"
    )


def _conflict_note(conflicts: pl.DataFrame, on_conflict: str) -> str:
    first = f"first at {conflicts['ts'][0]:%Y-%m-%d %H:%M} UTC"
    if on_conflict == "replace":
        return f"replaced {conflicts.height} stored bar(s) that differed from this file ({first})"
    return f"kept {conflicts.height} stored bar(s) that differ from this file ({first})"


def _insert_log(con: duckdb.DuckDBPyConnection, batch: IngestBatch, stored: StoredIngest) -> None:
    row = {
        **batch.log,
        "ingest_id": stored.ingest_id,
        "symbol": batch.symbol,
        "timeframe": batch.timeframe,
        "rows_new": stored.rows_new,
        "rows_already_stored": stored.rows_already_stored,
        "warnings": json.dumps(list(stored.warnings)),
        "created_at": datetime.now(UTC).replace(tzinfo=None),
    }
    # The column names are this module's constants, never user input; the values are bound.
    con.execute(
        f"INSERT INTO ingest_log ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )


def _run_over(
    con: duckdb.DuckDBPyConnection, view: str, frame: pl.DataFrame, sql: str, params: dict[str, Any]
) -> None:
    """Run `sql` over `frame` registered as `view` (a fixed internal name)."""
    if frame.is_empty():
        return
    con.register(view, frame.to_arrow())
    try:
        con.execute(sql, params)
    finally:
        con.unregister(view)
