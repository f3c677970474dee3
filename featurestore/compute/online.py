"""The online (single-bar) featurizer: the features of the newest bar from the last candles only.

It runs the same SQL files as `fs materialize` (through `run_pipeline`) on the last candles, so a live
system and the training data compute every feature identically; a parity test checks the two against each
other on the real data. Labels are not produced: they need the future.

Each table is computed from only the candles its declared lookback needs (`Table.max_lookback`): context and
eligibility read `warmup_bars` of history (the vol regime quantile), snapshot features a few hundred bars,
sequence features a few dozen: the cost of a SQL window grows with its input rows. All calls of a process
run in one shared in-memory DuckDB (through a cursor each), as opening a DuckDB costs ~30 ms a time, and the
table groups of a call run side by side on a small thread pool, so a cycle waits for its slowest group
(snapshot features) rather than for the sum of them.

Usage::

    candles = stored_candles(store, "XAUUSD", "M5", before=datetime(2025, 9, 3, 14, 30))
    rows = featurize_latest(candles)
    rows["snap_features"]["rsi_14"], rows["eligibility"]["reason"]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import cache
from itertools import groupby
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from featurestore.compute.pipeline import run_pipeline
from featurestore.compute.sql_sandbox import Sandbox, open_sandbox
from featurestore.errors import MaterializeError
from featurestore.store.candles import SLICE_COLUMNS
from featurestore.store.handle import Store
from schemas.contract import Contract
from schemas.versions import DEFAULT_CONTRACT

DECISION_TABLES = ("context", "seq_features", "snap_features", "eligibility")


def featurize_window(
    candles: pa.Table,
    rows: int = 1,
    *,
    blocked_intervals: Sequence[tuple[datetime, datetime]] = (),
    contract: Contract = DEFAULT_CONTRACT,
) -> dict[str, pa.Table]:
    """Decision-time tables (context, sequence, snapshot features, eligibility) of the LAST `rows` bars.

    `candles` holds one symbol's bars ordered by ts (columns SLICE_COLUMNS). Each table reads only the last
    `max_lookback + rows` of them; a bar with fewer than `warmup_bars` earlier bars is HARD_WARMUP with null
    features, exactly as materialized. Tables sharing a lookback run as one group, the groups concurrently;
    the HARD_WARMUP flags of the group that holds eligibility null the features of the other groups, whose
    shorter inputs cannot tell warmup apart.
    """
    if candles.num_rows == 0:
        raise MaterializeError("no candles given: the online featurizer needs the last bars of a symbol")
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    ts = candles.column("ts")
    start = ts[max(candles.num_rows - rows, 0)].as_py()
    end = ts[-1].as_py() + timedelta(minutes=int(contract.parameters["timeframe_minutes"]))

    def run(
        lookback: int, tables: tuple[str, ...], warmup: Callable[[], pa.ChunkedArray] | None
    ) -> dict[str, pa.Table]:
        window = candles.slice(max(candles.num_rows - lookback - rows, 0))
        return run_pipeline(
            window,
            start,
            end,
            blocked_intervals=blocked_intervals,
            contract=contract,
            tables=tables,
            warmup=warmup,
            database=_shared_database(),
        )

    # The groups run concurrently (DuckDB releases the GIL). The eligibility group is submitted first, and
    # the others wait for its warmup flags only after their own SQL has run: a pool runs tasks in submission
    # order, so the task they wait for is already running and they cannot deadlock, even when several
    # threads featurize at once.
    (lookback, tables), *rest = lookback_groups(contract)
    first = _pool().submit(run, lookback, tables, None)

    def warmup() -> pa.ChunkedArray:
        return pc.equal(first.result()["eligibility"].column("reason"), "HARD_WARMUP")

    others = [_pool().submit(run, lookback, tables, warmup) for lookback, tables in rest]
    out = first.result()
    for other in others:
        out |= other.result()
    return {name: out[name] for name in DECISION_TABLES}


@cache
def _pool() -> ThreadPoolExecutor:
    """The threads the table groups run on: one per group, so each group starts at once."""
    # at most one group per decision table, whatever version (built-in or the user's) a bundle names
    return ThreadPoolExecutor(max_workers=len(DECISION_TABLES), thread_name_prefix="featurize")


@cache
def _shared_database() -> Sandbox:
    """One sandboxed in-memory DuckDB for every online call of the process (the contract SQL's sandbox,
    docs/sql_sandbox.md): opening one costs ~30 ms, a cursor on it
    (run_pipeline takes one per call, whose temp tables go with it) under 1 ms. One thread per query: the
    table groups already run side by side, and splitting a few hundred rows further only adds
    synchronization (measured ~12% faster per window than DuckDB's default of a thread per core)."""
    return open_sandbox(threads=1)


def lookback_groups(contract: Contract) -> list[tuple[int, tuple[str, ...]]]:
    """The decision tables grouped by their declared lookback, the group holding eligibility first (the
    groups featurize_window runs side by side; `benchmarks/bench_replay.py` also times each alone)."""
    lookback = {name: contract.table(name).max_lookback for name in DECISION_TABLES}
    first = lookback["eligibility"]
    order = sorted(DECISION_TABLES, key=lambda name: (lookback[name] != first, -lookback[name]))
    return [(bars, tuple(names)) for bars, names in groupby(order, key=lambda name: lookback[name])]


def featurize_latest(
    candles: pa.Table,
    *,
    blocked_intervals: Sequence[tuple[datetime, datetime]] = (),
    contract: Contract = DEFAULT_CONTRACT,
) -> dict[str, dict[str, Any]]:
    """The decision-time rows of the newest bar of `candles`, one dict per table (see featurize_window)."""
    tables = featurize_window(candles, 1, blocked_intervals=blocked_intervals, contract=contract)
    return {name: table.to_pylist()[0] for name, table in tables.items()}


def stored_candles(store: Store, symbol: str, timeframe: str, *, before: datetime | None = None) -> pa.Table:
    """A symbol's stored candles with ts < `before` (all of them when None), oldest first, in SLICE_COLUMNS:
    the history that replay and parity slice bar by bar for the online featurizer."""
    cutoff = "AND ts < ? " if before is not None else ""
    params = [symbol, timeframe] + ([before] if before is not None else [])
    with store.connect(read_only=True) as con:
        return con.sql(
            f"SELECT {', '.join(SLICE_COLUMNS)} FROM candles WHERE symbol = ? AND timeframe = ? {cutoff}"
            "ORDER BY ts",
            params=params,
        ).to_arrow_table()
