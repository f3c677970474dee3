"""Runs the versioned SQL over one slice of candles, in a private in-memory DuckDB sandbox
(`featurestore.compute.sql_sandbox`: one SELECT per file, no file, network or store access).

The same function serves batch materialization (a year plus margins) and the online path (the last
`warmup_bars + 1` candles), so training and live features come from the same SQL text.

Usage::

    tables = run_pipeline(slice_arrow, start, end)   # {"context": pa.Table, ..., "labels": pa.Table}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.compute.sql_registry import SqlFile, load_sql_version
from featurestore.compute.sql_sandbox import Sandbox, checked_queries, open_sandbox, reading, run_file
from featurestore.errors import ContractError, ContractSqlError
from schemas.columns import Table
from schemas.contract import Contract
from schemas.versions import DEFAULT_CONTRACT

logger = logging.getLogger(__name__)

# Stages whose rows are nulled in HARD_WARMUP rows (their values would rest on incomplete windows).
_WARMUP_NULLED_ROLES = ("feature", "categorical")


def run_pipeline(
    candles_slice: pa.Table,
    start: datetime,
    end: datetime,
    *,
    blocked_intervals: Sequence[tuple[datetime, datetime]] = (),
    contract: Contract = DEFAULT_CONTRACT,
    on_stage: Callable[[str], None] | None = None,
    threads: int | None = None,
    tables: Sequence[str] | None = None,
    warmup: pa.ChunkedArray | Callable[[], pa.ChunkedArray] | None = None,
    database: Sandbox | None = None,
) -> dict[str, pa.Table]:
    """Run every SQL file of the contract's version over `candles_slice` and return the output tables.

    Args:
        candles_slice: one symbol's bars ordered by ts, columns SLICE_COLUMNS, with the contract's lookback
            margin before `start` and label margin after `end` already included.
        start, end: the half-open UTC range [start, end) of rows to return.
        blocked_intervals: user-declared [start, end) UTC intervals for HARD_KILLSWITCH.
        on_stage: called with each stage name as it starts (progress display).
        tables: the output tables wanted (default: all of the contract's); only the SQL files they need run.
        warmup: the HARD_WARMUP flag of each row of [start, end), when the caller already knows it; then
            eligibility is not run for it. The online featurizer passes it because it feeds each table only
            the candles that table's lookback needs, fewer than eligibility's warmup count needs. It may be a
            function giving the flags: it is called only once this run's SQL has run, so the caller can run
            eligibility concurrently.
        database: an open sandbox to run in, through a cursor of its own (so this run's temp tables stay
            private and go with the cursor); default: a fresh one with `threads`. Opening a DuckDB costs
            ~30 ms, which the online featurizer saves by passing the one it keeps.

    Raises:
        ContractSqlError: a SQL file is not exactly one SELECT, fails in DuckDB, or its output columns
            differ from the contract's declaration.
    """
    every = load_sql_version(contract.version, contract.sql_root)
    params = contract.sql_parameters()
    files = _needed(every, contract, tables, with_eligibility=warmup is None)
    sandbox = open_sandbox(threads) if database is None else database
    con = sandbox.cursor()
    try:
        queries = checked_queries(con, every, params)  # every file of the version, before any runs
        # Read in place: only the bars file reads the slice, once, ordering it by ts itself.
        con.register("candles_slice", candles_slice)
        con.execute("CREATE TEMP TABLE blocked_intervals (start_ts TIMESTAMP, end_ts TIMESTAMP)")
        if blocked_intervals:
            con.executemany(
                "INSERT INTO blocked_intervals VALUES (?, ?)", [list(i) for i in blocked_intervals]
            )
        for sql_file in files:
            if on_stage is not None:
                on_stage(sql_file.name)
            run_file(con, sql_file, queries[sql_file.name], params)
        if warmup is None:
            with reading(_file_of(files, contract.table("eligibility")), "its rows cannot be read"):
                warm = _warmup_flags(con, start, end)
        else:
            warm = warmup() if callable(warmup) else warmup
        wanted = [t for t in contract.tables if tables is None or t.name in tables]
        return {t.name: _output(con, t, _file_of(files, t), start, end, warm) for t in wanted}
    finally:
        con.close()
        if database is None:
            sandbox.close()


def _warmup_flags(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pa.ChunkedArray:
    """Whether each row of [start, end) is HARD_WARMUP, read from the eligibility table."""
    reasons = con.sql(
        "SELECT reason FROM eligibility WHERE ts >= ? AND ts < ? ORDER BY ts", params=[start, end]
    ).to_arrow_table()
    return pc.equal(reasons.column("reason"), "HARD_WARMUP")


def _needed(
    files: Sequence[SqlFile], contract: Contract, tables: Sequence[str] | None, *, with_eligibility: bool
) -> list[SqlFile]:
    """The SQL files that produce `tables` (plus eligibility, which warmup nulling reads, if
    `with_eligibility`) and their dependencies, in registry order."""
    if tables is None:
        return list(files)
    known = [t.name for t in contract.tables]
    unknown = sorted(set(tables) - set(known))
    if unknown:
        raise ContractError(f"unknown output tables {unknown}; the contract has {known}")
    by_name = {f.name: f for f in files}
    extra = ("eligibility",) if with_eligibility else ()
    stack = [_file_of(files, contract.table(name)).name for name in (*tables, *extra)]
    needed: set[str] = set()
    while stack:
        name = stack.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            stack.extend(by_name[name].depends_on)
    return [f for f in files if f.name in needed]


def _file_of(files: Sequence[SqlFile], table: Table) -> SqlFile:
    for f in files:
        if f.path.name == table.sql:
            return f
    raise ContractError(
        f"the contract names SQL file '{table.sql}' for table '{table.name}', but it is missing"
    )


def _output(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    sql_file: SqlFile,
    start: datetime,
    end: datetime,
    warm: pa.ChunkedArray,
) -> pa.Table:
    """The rows of [start, end) in contract column order, with features nulled in warmup rows.

    The columns are checked against the contract on the fetched rows themselves (no DESCRIBE query, which
    cost a live cycle ~1-2 ms per table).
    """
    query = f"SELECT * FROM {sql_file.name} WHERE ts >= ? AND ts < ? ORDER BY ts"
    with reading(sql_file, f"its rows cannot be read as table '{table.name}' (a ts column is needed)"):
        out = con.sql(query, params=[start, end]).to_arrow_table()
    produced = out.column_names
    if sorted(produced) != sorted(table.names):
        missing = sorted(set(table.names) - set(produced))
        extra = sorted(set(produced) - set(table.names))
        raise ContractSqlError(
            f"contract {sql_file.version}: {sql_file.path}: its columns differ from the contract's table "
            f"'{table.name}': missing {missing}, not declared {extra}"
        )
    out = out.select(list(table.names))
    if not pc.any(warm).as_py():
        return out
    for col in table.columns:
        if col.role in _WARMUP_NULLED_ROLES and col.nullable == "warmup":
            i = out.column_names.index(col.name)
            nulled = pc.if_else(warm, pa.scalar(None, out.schema.field(i).type), out.column(i))
            out = out.set_column(i, col.name, nulled)
    return out
