"""Lineage: which materialize run produced each part of a range, and is it still what the store would give.

A materialize run replaces the rows of its range and records, in `materialize_log`, the contract version
and hashes it ran under and the fingerprint (`table_hash`) of the candle slice it read (the range plus
its lookback and label margins); `materialize_slices` records that slice's bounds. The rows of an instant
belong to the latest run whose range holds it ("painting" the runs in the order they ran).

A part of a range is current when its run ran under the full contract hash now in force and the candles
now stored give the same slice fingerprint. An ingest that writes bars inside a run's slice (or next to a
slice that was short of history or label margin) records a row in `materialize_stale`, so `fs status`
shows what is stale without recomputing anything; `fs validate` recomputes the fingerprint, the final word.

Usage::

    runs = check_lineage(con, "XAUUSD", "M5", start, end, contract)   # raises LineageError if stale
    mark_stale(con, "XAUUSD", "M5", ingest_id, written_ts)            # inside the ingest's transaction
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np

from featurestore.errors import FeatureStoreError
from schemas.contract import Contract, contract_hashes

_RUN_COLUMNS = (
    "l.run_id, l.range_start, l.range_end, l.sql_version, l.feature_contract_hash, l.full_contract_hash, "
    "l.candle_fingerprint, l.created_at, s.slice_start, s.slice_end, s.open_start, s.open_end"
)


class LineageError(FeatureStoreError):
    """Part of a range was not produced by a current materialize run; nothing was written."""

    exit_code = 10


@dataclass(frozen=True)
class Run:
    """One row of `materialize_log` with the bounds of the candle slice it read (None for old runs)."""

    run_id: str
    start: datetime
    end: datetime
    sql_version: str
    feature_contract_hash: str
    full_contract_hash: str
    candle_fingerprint: str
    created_at: datetime
    slice_start: datetime | None
    slice_end: datetime | None
    open_start: bool
    open_end: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "range": [self.start.date().isoformat(), (self.end - timedelta(days=1)).date().isoformat()],
            "sql_version": self.sql_version,
            "feature_contract_hash": self.feature_contract_hash,
            "full_contract_hash": self.full_contract_hash,
            "candle_fingerprint": self.candle_fingerprint,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Segment:
    """A part [start, end) of a range and the run that owns its rows (None: never materialized)."""

    start: datetime
    end: datetime
    run: Run | None

    def days(self) -> str:
        return days_label(self.start, self.end)


def days_label(start: datetime, end: datetime) -> str:
    """`A..B` inclusive UTC days of a half-open day-aligned interval."""
    last = end - timedelta(microseconds=1)
    return f"{start.date().isoformat()}..{last.date().isoformat()}"


def runs_of(
    con: duckdb.DuckDBPyConnection, symbol: str, timeframe: str, version: str | None = None
) -> list[Run]:
    """Every recorded run of the symbol and timeframe (of one contract version), in the order they ran.

    Each version's rows live in its own tables, so runs of different versions never overwrite each other.
    """
    rows = con.execute(
        f"SELECT {_RUN_COLUMNS} FROM materialize_log l LEFT JOIN materialize_slices s USING (run_id) "
        "WHERE l.symbol = ? AND l.timeframe = ? AND (? IS NULL OR l.sql_version = ?) "
        "ORDER BY l.created_at, l.run_id",
        [symbol, timeframe, version, version],
    ).fetchall()
    return [Run(*r[:10], bool(r[10]), bool(r[11])) for r in rows]


def coverage(runs: list[Run], start: datetime, end: datetime) -> list[Segment]:
    """The parts of [start, end) and the run owning each: later runs overwrite earlier ones."""
    segments = [Segment(start, end, None)]
    for run in runs:
        lo, hi = max(run.start, start), min(run.end, end)
        if lo >= hi:
            continue
        cut: list[Segment] = []
        for seg in segments:
            if seg.end <= lo or seg.start >= hi:
                cut.append(seg)
                continue
            if seg.start < lo:
                cut.append(Segment(seg.start, lo, seg.run))
            if seg.end > hi:
                cut.append(Segment(hi, seg.end, seg.run))
        cut.append(Segment(lo, hi, run))
        segments = sorted(cut, key=lambda s: s.start)
    return _merge(segments)


def _merge(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].end == seg.start and merged[-1].run == seg.run:
            merged[-1] = Segment(merged[-1].start, seg.end, seg.run)
        else:
            merged.append(seg)
    return merged


def stale_marks(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The ingests that wrote bars into each run's slice after it ran."""
    if not run_ids:
        return {}
    rows = con.execute(
        "SELECT m.run_id, m.ingest_id, m.bars, m.first_ts, m.last_ts, i.source_file FROM materialize_stale m "
        "LEFT JOIN ingest_log i USING (ingest_id) WHERE list_contains(?, m.run_id) ORDER BY m.ingest_id",
        [run_ids],
    ).fetchall()
    marks: dict[str, list[dict[str, Any]]] = {}
    for run_id, ingest_id, bars, first, last, source in rows:
        marks.setdefault(run_id, []).append(
            {"ingest_id": ingest_id, "bars": bars, "first_ts": first, "last_ts": last, "source_file": source}
        )
    return marks


def describe_marks(marks: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"ingest #{m['ingest_id']} ({m['source_file']}) wrote {m['bars']} bar(s) "
        f"{m['first_ts']:%Y-%m-%d %H:%M}..{m['last_ts']:%Y-%m-%d %H:%M} UTC"
        for m in marks
    )


def mark_stale(
    con: duckdb.DuckDBPyConnection, symbol: str, timeframe: str, ingest_id: int, written: np.ndarray
) -> int:
    """Record, for every run whose candle slice the written bars change, that this ingest made it stale.

    `written` holds the `ts` (datetime64) of every bar the ingest inserted or replaced. Runs recorded before
    slices were (no `materialize_slices` row) count as changed by any write. Returns the runs marked.
    """
    if len(written) == 0:
        return 0
    stamps = np.sort(written.astype("datetime64[us]"))
    marked = 0
    for run in runs_of(con, symbol, timeframe):
        inside = np.ones(len(stamps), dtype=bool)
        if run.slice_start is not None and not run.open_start:
            inside &= stamps >= np.datetime64(run.slice_start, "us")
        if run.slice_end is not None and not run.open_end:
            inside &= stamps <= np.datetime64(run.slice_end, "us")
        hit = stamps[inside]
        if len(hit) == 0:
            continue
        con.execute(
            "INSERT INTO materialize_stale VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [run.run_id, ingest_id, len(hit), hit[0].item(), hit[-1].item()],
        )
        marked += 1
    return marked


def segment_problem(
    seg: Segment,
    full_hash: str,
    version: str,
    fingerprint_now: str | None,
    marks: list[dict[str, Any]],
) -> str | None:
    """Why a segment is stale, or None when it is current. `fingerprint_now`: None = not recomputed."""
    run = seg.run
    if run is None:
        return "never materialized"
    ran = f"run {run.run_id} ({run.created_at:%Y-%m-%d %H:%M} UTC)"
    if run.full_contract_hash != full_hash:
        return (
            f"materialized by {ran} under contract {run.sql_version} full_contract_hash "
            f"{run.full_contract_hash[:16]}, the contract in force ({version}) has {full_hash[:16]}"
        )
    changed = fingerprint_now is not None and fingerprint_now != run.candle_fingerprint
    if changed or (fingerprint_now is None and marks):
        why = describe_marks(marks) if marks else "the stored candles differ from those it read"
        return f"candles changed after {ran}: {why}"
    return None


def check_lineage(
    con: duckdb.DuckDBPyConnection,
    symbol: str,
    timeframe: str,
    start: datetime,
    end: datetime,
    contract: Contract,
    fix: str,
) -> list[Segment]:
    """The segments of [start, end), each owned by a current run; else LineageError naming every stale part.

    `fix` is the command line a user runs for the stale days, with `{days}` where its date range goes.
    """
    from featurestore.store.candles import load_candle_slice
    from featurestore.store.snapshots import table_hash

    full_hash = contract_hashes(contract)["full_contract_hash"]
    segments = coverage(runs_of(con, symbol, timeframe, contract.version), start, end)
    owners = [s.run.run_id for s in segments if s.run is not None]
    marks = stale_marks(con, owners)
    fingerprints: dict[str, str] = {}
    problems: list[tuple[Segment, str]] = []
    for seg in segments:
        now = None
        if seg.run is not None and seg.run.full_contract_hash == full_hash:
            if seg.run.run_id not in fingerprints:
                candles = load_candle_slice(con, symbol, timeframe, seg.run.start, seg.run.end, contract)
                fingerprints[seg.run.run_id] = table_hash(candles)
            now = fingerprints[seg.run.run_id]
        problem = segment_problem(
            seg, full_hash, contract.version, now, marks.get(seg.run.run_id, []) if seg.run else []
        )
        if problem is not None:
            problems.append((seg, problem))
    if problems:
        hull = days_label(problems[0][0].start, problems[-1][0].end)
        lines = "\n".join(f"  - {seg.days()}: {why}" for seg, why in problems)
        raise LineageError(
            f"{symbol} {timeframe} {days_label(start, end)} is not fully materialized from the candles now "
            f"stored under the contract in force ({contract.version}, full_contract_hash "
            f"{full_hash[:16]}); nothing was written. Stale parts:\n{lines}\n"
            f"  how to fix: {fix.format(days=hull)}"
        )
    return segments


def range_is_current(store: Any, config: Any) -> bool:
    """Whether every row of a `MaterializeConfig`'s range comes from a current run of the default contract."""
    from featurestore.store.handle import utc_day_range
    from schemas.versions import DEFAULT_CONTRACT

    start, end = utc_day_range(config.start, config.end)
    with store.connect() as con:
        try:
            check_lineage(con, config.symbol, config.timeframe, start, end, DEFAULT_CONTRACT, "{days}")
        except LineageError:
            return False
    return True
