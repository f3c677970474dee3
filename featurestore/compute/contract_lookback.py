"""Lookback sufficiency, an audit of `fs contract check`: each model input computed from exactly its
declared lookback (that many earlier bars, no more) equals its value computed with the whole sample's
history. Where it does not, the smallest lookback that does is searched up to 4x the longest declared one;
a column no lookback in reach makes equal "depends on all history" (running state such as an EMA).

Usage::

    audit = audit_lookback(sample, base, contract, seed=7)
    [f.line() for f in audit.findings]    # "snap_features.vol_48: declared 10, needs 48 earlier bars"
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import duckdb
import numpy as np
import pyarrow as pa

from featurestore.compute.contract_audit import ATOL, RTOL, Audit, Finding, audited_columns
from featurestore.compute.pipeline import run_pipeline
from schemas.columns import Column
from schemas.contract import Contract

PROBES = 3
SEARCH_FACTOR = 4
INPUT_ROLES = ("feature", "categorical")


def audit_lookback(
    sample: pa.Table,
    base: dict[str, pa.Table],
    contract: Contract,
    seed: int,
    *,
    tables: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> Audit:
    """See the module docstring. `base`: the tables of the whole sample (row i of the sample is row i of
    each table), the long-history reference."""
    groups: dict[int, list[tuple[str, Column]]] = {}
    for t in contract.tables:
        if tables is None or t.name in tables:
            for col in (c for c in audited_columns(t, columns) if c.role in INPUT_ROLES):
                groups.setdefault(col.lookback, []).append((t.name, col))
    longest = contract.warmup_bars
    limit = SEARCH_FACTOR * longest
    probes = _probes(sample, contract, seed)
    reach = min(limit, min(probes))
    con = duckdb.connect()
    try:
        probe = _Prober(sample, base, contract, probes, con)
        findings = []
        for lookback, cols in sorted(groups.items()):
            bad = probe.failing(lookback, cols)
            for table, col in bad:
                needed = _smallest(probe, table, col, lookback, reach)
                findings.append(_finding(table, col, needed, reach, limit))
    finally:
        con.close()
    ts = sample.column("ts")
    return Audit(
        "lookback sufficiency",
        not findings,
        f"{sum(len(c) for c in groups.values())} input columns at {len(probes)} probe bars, search up to "
        f"{reach} bars",
        tuple(findings),
        "declare the lookback the finding names (schemas: Column.lookback), or drop running state",
        details={"probe_ts": [str(ts[p].as_py()) for p in probes], "search_limit": reach},
    )


def _finding(table: str, col: Column, needed: int | None, reach: int, limit: int) -> Finding:
    if needed is None:
        short = f" (the sample allowed {reach} of the {limit} searched)" if reach < limit else ""
        return Finding(
            table,
            col.name,
            f"declared {col.lookback}; depends on all history: no lookback up "
            f"to {reach} bars gives the long-history value{short}",
        )
    return Finding(
        table, col.name, f"declared {col.lookback}, needs {needed} earlier bars: declare lookback={needed}"
    )


def _probes(sample: pa.Table, contract: Contract, seed: int) -> list[int]:
    """Seeded probe rows with as much history as the sample allows (4x the longest lookback where it can)."""
    n = sample.num_rows
    hi = n - contract.label_margin_bars - 1
    lo = min(SEARCH_FACTOR * contract.warmup_bars, max(contract.warmup_bars, (n + contract.warmup_bars) // 2))
    rng = np.random.default_rng(seed + 1)
    return sorted(int(i) for i in rng.choice(np.arange(lo, hi), size=min(PROBES, hi - lo), replace=False))


class _Prober:
    """Runs the contract's SQL on the `lookback + 1` bars ending at each probe and compares with `base`."""

    def __init__(
        self,
        sample: pa.Table,
        base: dict[str, pa.Table],
        contract: Contract,
        probes: list[int],
        con: duckdb.DuckDBPyConnection,
    ) -> None:
        self.sample, self.contract, self.probes, self.con = sample, contract, probes, con
        ts = sample.column("ts")
        self.ts = [ts[p].as_py() for p in probes]
        self.reference = {name: t.take(pa.array(probes)) for name, t in base.items()}

    def values(self, lookback: int, tables: list[str], k: int) -> dict[str, pa.Table]:
        p = self.probes[k]
        candles = self.sample.slice(p - lookback, lookback + 1)
        start = self.ts[k]
        not_warm = pa.chunked_array([pa.array([False])])
        return run_pipeline(
            candles,
            start,
            start + timedelta(microseconds=1),
            contract=self.contract,
            tables=tables,
            warmup=not_warm,
            database=self.con,
        )

    def failing(self, lookback: int, cols: list[tuple[str, Column]]) -> list[tuple[str, Column]]:
        tables = sorted({t for t, _ in cols})
        bad: dict[str, tuple[str, Column]] = {}
        for k in range(len(self.probes)):
            got = self.values(lookback, tables, k)
            for table, col in cols:
                if not _equal(got[table].column(col.name)[0], self.reference[table].column(col.name)[k]):
                    bad[f"{table}.{col.name}"] = (table, col)
        return list(bad.values())


def _equal(a: pa.Scalar, b: pa.Scalar) -> bool:
    x, y = a.as_py(), b.as_py()
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, float) or isinstance(y, float):
        return bool(np.isclose(x, y, rtol=RTOL, atol=ATOL) or (np.isnan(x) and np.isnan(y)))
    return bool(x == y)


def _smallest(probe: _Prober, table: str, col: Column, declared: int, reach: int) -> int | None:
    """The smallest lookback in (declared, reach] at which the column equals the long-history value at
    every probe (doubling, then bisection), or None."""

    def works(lookback: int) -> bool:
        return not probe.failing(lookback, [(table, col)])

    low, step = declared, max(declared, 1)
    while True:
        high = min(low + step, reach)
        if works(high):
            break
        if high >= reach:
            return None
        low, step = high, step * 2
    while high - low > 1:
        mid = (low + high) // 2
        if works(mid):
            high = mid
        else:
            low = mid
    return high
