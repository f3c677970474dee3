"""`fs materialize`: compute every contract table for a date range and store it atomically.

Usage::

    config = MaterializeConfig("XAUUSD", date(2025, 2, 1), date(2025, 10, 27))
    result = materialize(Store.at("./fsdata"), config)
    result.rows["snap_features"], result.funnel.eligible

The slice read from `candles` starts `warmup_bars` bars before the range and ends `label_horizon_bars` bars
after it, so every row of the range gets the same values it would get in any larger run. Rows without
enough history are kept and marked HARD_WARMUP (features null), never dropped or filled. All tables of a run
are replaced inside one transaction: a crash leaves the previous state.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from featurestore.compute.declaration_check import check_definition
from featurestore.compute.funnel import EligibilityFunnel, eligibility_funnel
from featurestore.compute.pipeline import run_pipeline
from featurestore.errors import InputError, MaterializeError
from featurestore.store.candles import load_candle_slice
from featurestore.store.ddl import create_table
from featurestore.store.handle import Store, utc_day_range
from featurestore.store.snapshots import table_hash
from featurestore.store.versions import stored_table
from schemas.columns import Table
from schemas.contract import Contract, contract_hashes
from schemas.versions import DEFAULT_CONTRACT

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaterializeConfig:
    """What to materialize. Dates are UTC calendar days; `end` is inclusive."""

    symbol: str
    start: date
    end: date
    timeframe: str = "M5"
    blocked_intervals: tuple[tuple[datetime, datetime], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class MaterializeResult:
    run_id: str
    symbol: str
    start: date
    end: date
    rows: dict[str, int]
    funnel: EligibilityFunnel
    warnings: tuple[str, ...]
    seconds: float
    slice_rows: int
    contract_version: str
    feature_contract_hash: str
    full_contract_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "symbol": self.symbol,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "funnel": self.funnel.to_dict(),
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
            "slice_rows": self.slice_rows,
            "contract_version": self.contract_version,
            "feature_contract_hash": self.feature_contract_hash,
            "full_contract_hash": self.full_contract_hash,
        }


def materialize(
    store: Store,
    config: MaterializeConfig,
    *,
    contract: Contract | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> MaterializeResult:
    """Materialize context, seq_features, snap_features, eligibility and labels for the configured range,
    under `contract` (default: `schemas.versions.DEFAULT_CONTRACT`, the newest version).

    Raises:
        MaterializeError: wrong timeframe, empty range, no candles, or candles lacking a needed column.
        StoreBusyError: another process holds the store.
    """
    started = time.perf_counter()
    contract = contract or DEFAULT_CONTRACT
    if config.timeframe != contract.parameters["timeframe"]:
        raise MaterializeError(
            f"contract {contract.version} is defined on {contract.parameters['timeframe']} bars, "
            f"not {config.timeframe}; ingest {contract.parameters['timeframe']} candles"
        )
    if config.end < config.start:
        raise MaterializeError(f"empty date range {config.start}..{config.end}: the end is before the start")
    start, end = utc_day_range(config.start, config.end)
    check_definition(contract)  # declaration and SQL agree, before anything is written
    with store.connect() as con:
        if on_stage is not None:
            on_stage("load candles")
        candles = _load_slice(con, config, start, end, contract)
        warnings = _slice_warnings(candles, start, contract)
        tables = run_pipeline(
            candles,
            start,
            end,
            blocked_intervals=config.blocked_intervals,
            contract=contract,
            on_stage=on_stage,
        )
        if on_stage is not None:
            on_stage("write tables")
        run_id = uuid.uuid4().hex[:16]
        hashes = contract_hashes(contract)
        _write(
            con,
            contract,
            tables,
            config,
            start,
            end,
            run_id,
            hashes,
            table_hash(candles),
            _slice_bounds(candles, start, end, contract),
        )
    funnel = eligibility_funnel(tables["eligibility"], tables["labels"])
    return MaterializeResult(
        run_id=run_id,
        symbol=config.symbol,
        start=config.start,
        end=config.end,
        rows={name: t.num_rows for name, t in tables.items()},
        funnel=funnel,
        warnings=tuple(warnings),
        seconds=time.perf_counter() - started,
        slice_rows=candles.num_rows,
        contract_version=contract.version,
        feature_contract_hash=hashes["feature_contract_hash"],
        full_contract_hash=hashes["full_contract_hash"],
    )


def _load_slice(
    con: duckdb.DuckDBPyConnection,
    config: MaterializeConfig,
    start: datetime,
    end: datetime,
    contract: Contract,
) -> pa.Table:
    candles = load_candle_slice(con, config.symbol, config.timeframe, start, end, contract)
    stamps = candles.column("ts").to_numpy()
    if not ((stamps >= np.datetime64(start, "us")) & (stamps < np.datetime64(end, "us"))).any():
        stored = con.execute(
            "SELECT min(ts), max(ts), count(*) FROM candles WHERE symbol = ? AND timeframe = ?",
            [config.symbol, config.timeframe],
        ).fetchall()[0]
        have = f"stored {config.timeframe} bars of {config.symbol}: " + (
            f"{stored[2]} from {stored[0]} to {stored[1]} UTC"
            if stored[2]
            else "none (run `fs ingest` first)"
        )
        raise MaterializeError(f"no candles in {config.start}..{config.end}; {have}")
    if candles.column("tick_volume").null_count or candles.column("spread").null_count:
        raise MaterializeError(
            f"{candles.column('tick_volume').null_count} bars lack tick volume and "
            f"{candles.column('spread').null_count} lack a spread around {config.start}..{config.end}; "
            "the contract's features need both. Ingest a source with tick volume and spread "
            "(or --assume-spread for the spread)."
        )
    return candles


def _slice_warnings(candles: pa.Table, start: datetime, contract: Contract) -> list[str]:
    history = int((candles.column("ts").to_numpy() < np.datetime64(start, "us")).sum())
    if history < contract.warmup_bars:
        return [
            f"only {history} bars before {start:%Y-%m-%d} (the contract needs {contract.warmup_bars}): "
            "the first rows of the range are HARD_WARMUP with null features"
        ]
    return []


def _check_existing(con: duckdb.DuckDBPyConnection, table: Table, name: str) -> None:
    stored = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
    if stored != list(table.names):
        raise MaterializeError(
            f"table '{name}' in the store has columns from another contract version "
            f"(stored {len(stored)}, contract {len(table.names)}); materialize into a new --store"
        )


def _write(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    data: dict[str, pa.Table],
    config: MaterializeConfig,
    start: datetime,
    end: datetime,
    run_id: str,
    hashes: tuple[str, str],
    fingerprint: str,
    slice_bounds: tuple[datetime, datetime, bool, bool],
) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for table in contract.tables:
            name = stored_table(contract, table)
            # No PRIMARY KEY: (symbol, ts) is unique by construction (one slice of the keyed candles
            # table) and is checked by the validation gate; an index would double the write time of a year.
            con.execute(create_table(table, name))
            _check_existing(con, table, name)
            con.execute(
                f"DELETE FROM {name} WHERE symbol = ? AND ts >= ? AND ts < ?",
                [config.symbol, start, end],
            )
            con.register("incoming", data[table.name])
            con.execute(f"INSERT INTO {name} SELECT * FROM incoming")
            con.unregister("incoming")
        con.execute(
            "INSERT INTO materialize_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                config.symbol,
                config.timeframe,
                start,
                end,
                contract.version,
                hashes["feature_contract_hash"],
                hashes["full_contract_hash"],
                data["eligibility"].num_rows,
                fingerprint,
                json.dumps([[a.isoformat(), b.isoformat()] for a, b in config.blocked_intervals]),
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        con.execute("INSERT INTO materialize_slices VALUES (?, ?, ?, ?, ?)", [run_id, *slice_bounds])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _slice_bounds(
    candles: pa.Table, start: datetime, end: datetime, contract: Contract
) -> tuple[datetime, datetime, bool, bool]:
    """First and last bar of the slice read, and whether it lacked history or label margin (lineage)."""
    stamps = candles.column("ts").to_numpy()
    before = int((stamps < np.datetime64(start, "us")).sum())
    after = int((stamps >= np.datetime64(end, "us")).sum())
    first, last = (stamps[i].astype("datetime64[us]").item() for i in (0, -1))
    return first, last, before < contract.warmup_bars, after < contract.label_margin_bars


def read_blocked_intervals(path: Path) -> tuple[tuple[datetime, datetime], ...]:
    """Read `start,end[,reason]` UTC rows (ISO 8601, a header line allowed) for HARD_KILLSWITCH.

    Raises:
        InputError: the file cannot be read.
        MaterializeError: a row cannot be parsed or ends before it starts, naming file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            path,
            f"cannot read the killswitch file ({getattr(exc, 'strerror', None) or exc})",
            fix="pass --blocked a CSV of start,end UTC rows that exists and is readable",
        ) from None
    intervals = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [f.strip() for f in line.split(",")]
        if not line.strip() or (number == 1 and fields[0].lower() == "start"):
            continue
        try:
            start, end = (_utc_naive(datetime.fromisoformat(f)) for f in fields[:2])
        except ValueError as exc:
            raise MaterializeError(
                f"{path}, line {number}: {exc}; expected start,end in ISO 8601 UTC"
            ) from None
        if end <= start:
            raise MaterializeError(f"{path}, line {number}: the interval ends at or before its start")
        intervals.append((start, end))
    return tuple(intervals)


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
