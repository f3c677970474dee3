"""The on-disk store: one DuckDB file plus folders for snapshots, validation, bundles and reports.

Usage::

    store = Store.at("./fsdata")
    with store.connect() as con:          # the single writer; a second one gets StoreBusyError
        con.execute("SELECT count(*) FROM candles").fetchone()

Timestamps in every table are DuckDB `TIMESTAMP` values holding UTC wall time (bar OPEN time).
"""

from __future__ import annotations

import contextlib
import os
import re
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb

from featurestore.errors import StoreBusyError, StoreMissingError
from featurestore.store.ddl import create_table
from schemas.contract import CONTRACT

DEFAULT_STORE = "./fsdata"
DB_FILE = "featurestore.duckdb"
# Seconds a command waits for a lock another process holds before it reports the store busy (env
# FS_LOCK_WAIT). `train live` holds the lock only for each short write, so the others wait, not fail.
DEFAULT_LOCK_WAIT_S = 5.0
_LOCK_RETRY_S = 0.05

# The candles table from the contract's declaration (types and NOT NULL from it) plus the store's own
# ingest_id; the bookkeeping tables below belong to the store alone (contract_checks: the record of
# `fs contract check`, read by featurestore/store/checks.py).
CANDLES = CONTRACT.candles  # the ingested bars' table, the same in every version
CANDLES_DDL = create_table(CANDLES, extra=("ingest_id INTEGER NOT NULL",), primary_key=CANDLES.grain)
STORE_DDL = """
CREATE TABLE IF NOT EXISTS candles_rejected (
    ingest_id INTEGER NOT NULL,
    symbol VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    line BIGINT NOT NULL,
    ts TIMESTAMP,
    reason VARCHAR NOT NULL,
    raw VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest_log (
    ingest_id INTEGER PRIMARY KEY,
    symbol VARCHAR NOT NULL,
    timeframe VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    source_tz VARCHAR NOT NULL,
    price_basis VARCHAR NOT NULL,
    point_size DOUBLE,
    rows_read BIGINT NOT NULL,
    rows_accepted BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    rows_new BIGINT NOT NULL,
    rows_already_stored BIGINT NOT NULL,
    first_ts TIMESTAMP,
    last_ts TIMESTAMP,
    warnings VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS materialize_log (
    run_id VARCHAR PRIMARY KEY,
    symbol VARCHAR NOT NULL,
    timeframe VARCHAR NOT NULL,
    range_start TIMESTAMP NOT NULL,
    range_end TIMESTAMP NOT NULL,
    sql_version VARCHAR NOT NULL,
    feature_contract_hash VARCHAR NOT NULL,
    full_contract_hash VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    candle_fingerprint VARCHAR NOT NULL,
    blocked_intervals VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS materialize_slices (
    run_id VARCHAR PRIMARY KEY,
    slice_start TIMESTAMP,
    slice_end TIMESTAMP,
    open_start BOOLEAN NOT NULL,
    open_end BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS materialize_stale (
    run_id VARCHAR NOT NULL,
    ingest_id INTEGER NOT NULL,
    bars BIGINT NOT NULL,
    first_ts TIMESTAMP NOT NULL,
    last_ts TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS contract_checks (
    check_id VARCHAR PRIMARY KEY,
    contract VARCHAR NOT NULL,
    full_contract_hash VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    timeframe VARCHAR NOT NULL,
    range_start TIMESTAMP NOT NULL,
    range_end TIMESTAMP NOT NULL,
    cuts INTEGER NOT NULL,
    seed BIGINT NOT NULL,
    passed BOOLEAN NOT NULL,
    result VARCHAR NOT NULL,
    report_path VARCHAR,
    created_at TIMESTAMP NOT NULL
);
"""

_LOCK_PATTERN = re.compile(r"lock", re.IGNORECASE)


@dataclass(frozen=True)
class Store:
    """Paths of one store root. Creating the object touches nothing on disk."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None = None) -> Store:
        chosen = root if root is not None else os.environ.get("FS_STORE", DEFAULT_STORE)
        return cls(Path(chosen))

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def validation_dir(self) -> Path:
        return self.root / "validation"

    @property
    def bundles_dir(self) -> Path:
        return self.root / "bundles"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @contextlib.contextmanager
    def connect(
        self, *, read_only: bool = False, wait: float | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the DuckDB file, creating the store and its base tables on first use.

        A lock held by another process is waited for up to `wait` seconds (default: env FS_LOCK_WAIT, else
        DEFAULT_LOCK_WAIT_S), retrying every 50 ms, before the store is reported busy.

        Raises:
            StoreBusyError: another process held the file for longer than `wait`.
            StoreMissingError: `read_only` and there is no store at the root.
        """
        if read_only and not self.db_path.exists():
            raise StoreMissingError(
                self.root, "no store here", fix="run `fs ingest` first, or pass --store / set FS_STORE"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        con = _open(self.db_path, read_only, lock_wait() if wait is None else wait)
        try:
            if not read_only:
                con.execute(CANDLES_DDL)
                con.execute(STORE_DDL)
            yield con
        finally:
            con.close()


def lock_wait() -> float:
    """Seconds to wait for another process's lock: env FS_LOCK_WAIT, else DEFAULT_LOCK_WAIT_S."""
    raw = os.environ.get("FS_LOCK_WAIT")
    try:
        return DEFAULT_LOCK_WAIT_S if raw is None else max(float(raw), 0.0)
    except ValueError:
        raise ValueError(f"FS_LOCK_WAIT must be a number of seconds, got {raw!r}") from None


def _open(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """Connect, retrying while another process holds the lock (at most `wait` seconds)."""
    deadline = clock.monotonic() + wait
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not _LOCK_PATTERN.search(str(exc)):
                raise
            if clock.monotonic() >= deadline:
                raise StoreBusyError(
                    f"store is busy: another process holds {path} ({_holder(str(exc))}) and did not let go "
                    f"within {wait:g} s. Wait for it to finish, or use another --store."
                ) from None
            clock.sleep(_LOCK_RETRY_S)


def utc_day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """The half-open UTC interval [first 00:00, last + 1 day 00:00) of an inclusive range of days."""
    return datetime.combine(first, time.min), datetime.combine(last + timedelta(days=1), time.min)


def _holder(message: str) -> str:
    match = re.search(r"PID (\d+)", message)
    return f"PID {match.group(1)}" if match else "see `fuser` for the holder"
