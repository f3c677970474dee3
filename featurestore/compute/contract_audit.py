"""The audits of `fs contract check` that rebuild a contract's tables on perturbed candles: declaration vs
SQL, leakage (cut and random-walk future) and range independence. Each takes one symbol's candle sample
(pipeline slice columns, ordered by ts) and returns an `Audit`. Lookback sufficiency is in
`contract_lookback`, feature health in `contract_health`, the run that strings them together in
`contract_check` (see docs/contract_check.md).

Usage::

    base = run_pipeline(sample, first_ts, end, contract=c)
    audit_leakage(sample, base, c, cut_bars=pick_cuts(sample, c, 5, seed=7), seed=7).passed
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.compute.pipeline import run_pipeline
from featurestore.compute.sql_registry import load_sql_version
from featurestore.errors import ContractError
from featurestore.store.ddl import SQL_TYPES
from schemas.columns import Column, Table
from schemas.contract import Contract

# Different slice starts sum window frames in a different order: equal means within this (far below any
# feature's resolution). Leakage compares runs that share their start, so it asks for identical values.
RTOL, ATOL = 1e-9, 1e-12
# The random-walk future runs this many bars (a week of M5) and the sample ends there: every row up to the
# cut still sees a changed future, and the rebuild costs the history plus a week, not the whole sample.
WALK_BARS = 2016
GAP = 1.2
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"}


@dataclass(frozen=True)
class Finding:
    """One failing column (or file) of an audit: where, what, and the numbers."""

    table: str
    column: str
    problem: str
    first_ts: str | None = None
    size: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    def line(self) -> str:
        where = f" (first at {self.first_ts})" if self.first_ts else ""
        size = f", max |diff| {self.size:.6g}" if self.size is not None else ""
        return f"{self.table}.{self.column}: {self.problem}{where}{size}"


@dataclass(frozen=True)
class Audit:
    """The result of one audit: passed, what it looked at, and each failing column."""

    name: str
    passed: bool
    checked: str
    findings: tuple[Finding, ...] = ()
    fix: str = ""
    skipped: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "skipped": self.skipped,
            "checked": self.checked,
            "findings": [f.to_dict() for f in self.findings],
            "fix": self.fix if not self.passed else "",
            "details": self.details,
        }


def decision_tables(contract: Contract, tables: Sequence[str] | None = None) -> list[str]:
    """Tables whose values a live system reads at the bar's close (every table without label columns)."""
    return [
        t.name
        for t in contract.tables
        if not t.by_role("label") and (tables is None or t.name in tables or t.name == "eligibility")
    ]


def label_tables(contract: Contract, tables: Sequence[str] | None = None) -> list[str]:
    return [t.name for t in contract.tables if t.by_role("label") and (tables is None or t.name in tables)]


def audited_columns(table: Table, columns: Sequence[str] | None = None) -> list[Column]:
    """The non-key columns of `table` an audit looks at: all, or those named in `columns`."""
    return [c for c in table.columns if c.role != "key" and (columns is None or c.name in columns)]


def audit_declaration(sample: pa.Table, contract: Contract) -> Audit:
    """Run every SQL file once on the first bars of the sample and compare the columns each produces (names
    and DuckDB types) with the contract's declaration of its table."""
    checked = f"{len(contract.tables)} tables of {contract.sql_root / contract.version}"
    try:
        files = load_sql_version(contract.version, contract.sql_root)
    except ContractError as exc:
        return Audit(
            "declaration vs SQL", False, checked, (Finding("-", "-", str(exc)),), "fix the SQL files"
        )
    by_file = {t.sql: t for t in contract.tables}
    findings: list[Finding] = []
    con = duckdb.connect()
    try:
        con.register("candles_slice", sample.slice(0, min(sample.num_rows, 2 * contract.warmup_bars + 50)))
        con.execute("CREATE TEMP TABLE blocked_intervals (start_ts TIMESTAMP, end_ts TIMESTAMP)")
        params = contract.sql_parameters()
        for f in files:
            try:
                con.execute(f"CREATE TEMP TABLE {f.name} AS {f.render(params)}")
            except (duckdb.Error, ContractError) as exc:
                findings.append(Finding(f.name, "-", f"{f.path.name} does not run: {exc}"))
                continue
            table = by_file.get(f.path.name)
            if table is None:
                continue
            produced = {r[0]: r[1] for r in con.execute(f"DESCRIBE {f.name}").fetchall()}
            findings += _column_findings(table, produced, f.path.name)
        for table in contract.tables:
            if table.sql not in {f.path.name for f in files}:
                findings.append(Finding(table.name, "-", f"declared SQL file {table.sql} is missing"))
    finally:
        con.close()
    return Audit(
        "declaration vs SQL",
        not findings,
        checked,
        tuple(findings),
        "declare each column the SQL produces (with its dtype), or remove it from the SELECT",
    )


def _column_findings(table: Any, produced: dict[str, str], file_name: str) -> list[Finding]:
    out = [
        Finding(table.name, name, f"produced by {file_name} but not declared")
        for name in produced
        if name not in table.names
    ]
    for col in table.columns:
        if col.name not in produced:
            out.append(Finding(table.name, col.name, f"declared but {file_name} does not produce it"))
            continue
        want, got = SQL_TYPES[col.dtype], produced[col.name]
        same = got == want or (want in _INTEGER_TYPES and got in _INTEGER_TYPES)
        if not same:
            out.append(Finding(table.name, col.name, f"declared {col.dtype} ({want}), SQL gives {got}"))
    return out


def compare_tables(
    a: pa.Table, b: pa.Table, table: str, columns: Sequence[str], *, exact: bool
) -> list[Finding]:
    """Columns whose values differ between `a` and `b` (same rows by ts), with the first differing ts and
    the largest absolute difference. NaN equals NaN and null equals null."""
    if a.num_rows != b.num_rows or not a.column("ts").equals(b.column("ts")):
        return [Finding(table, "ts", f"row sets differ: {a.num_rows} vs {b.num_rows} rows")]
    ts = a.column("ts")
    out = []
    for name in columns:
        x, y = a.column(name), b.column(name)
        if x.equals(y):
            continue
        differ, size = _differing(x, y, exact)
        if differ.any():
            first = int(np.flatnonzero(differ)[0])
            out.append(
                Finding(
                    table,
                    name,
                    f"{int(differ.sum())} of {len(differ)} rows differ",
                    str(ts[first].as_py()),
                    size,
                )
            )
    return out


def _differing(x: pa.ChunkedArray, y: pa.ChunkedArray, exact: bool) -> tuple[np.ndarray, float | None]:
    if pa.types.is_floating(x.type) or pa.types.is_integer(x.type):
        u = x.to_numpy(zero_copy_only=False).astype(float)
        v = y.to_numpy(zero_copy_only=False).astype(float)
        both_nan = np.isnan(u) & np.isnan(v)
        with np.errstate(invalid="ignore"):
            same = (u == v) if exact else np.isclose(u, v, rtol=RTOL, atol=ATOL)
        differ = ~(same | both_nan)
        gap = np.abs(u - v)[differ]
        finite = gap[np.isfinite(gap)]
        return differ, (float(finite.max()) if finite.size else float("inf")) if differ.any() else None
    ne = pc.fill_null(pc.not_equal(x, y), False)
    one_null = pc.xor(pc.is_null(x), pc.is_null(y))
    return np.asarray(pc.or_(ne, one_null).to_numpy(zero_copy_only=False), dtype=bool), None


def rows_upto(table: pa.Table, limit: datetime) -> pa.Table:
    return table.filter(pc.less_equal(table.column("ts"), pa.scalar(limit, pa.timestamp("us"))))


def pick_cuts(sample: pa.Table, contract: Contract, n: int, seed: int) -> list[int]:
    """`n` seeded cut bars (row indices) among the rows with complete history and a label horizon after."""
    lo = contract.warmup_bars + 1
    hi = sample.num_rows - contract.label_margin_bars - 2
    if hi - lo < n:
        raise ContractError(
            f"the sample has {sample.num_rows} bars; the leakage audit needs more than "
            f"{contract.warmup_bars + contract.label_margin_bars + n} (warmup, cuts and the label horizon)"
        )
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(np.arange(lo, hi), size=n, replace=False))


def random_walk_after(sample: pa.Table, cut: int, seed: int, bars: int | None = None) -> pa.Table:
    """The sample up to row `cut`, then `bars` bars (default: all the rest) replaced by a seeded random walk
    of the sample's own 1-bar log-return volatility (same timestamps; spreads and tick volumes resampled
    from the sample); the sample ends after the walk. Its first half runs from GAP x the sample's highest
    high, its second half from the lowest low / GAP, so any statistic over the whole slice (its maximum,
    minimum, mean, spread, ranks) moves with it."""
    rng = np.random.default_rng(seed)
    highest = float(pc.max(sample.column("high")).as_py())
    lowest = float(pc.min(sample.column("low")).as_py())
    sample = sample.slice(0, cut + 1 + bars) if bars is not None else sample
    close = sample.column("close").to_numpy()
    k = sample.num_rows - cut - 1
    sigma = float(np.std(np.diff(np.log(close)))) or 1e-4
    steps = rng.normal(0.0, sigma, k)
    half = k // 2
    path = np.concatenate(
        [
            GAP * highest * np.exp(np.cumsum(steps[:half])),
            lowest / GAP * np.exp(np.cumsum(steps[half:])),
        ]
    )
    opens = np.concatenate([[GAP * highest], path[:-1]])
    wick = np.abs(rng.normal(0.0, sigma / 2, (2, k)))
    columns = {
        "open": opens,
        "high": np.maximum(opens, path) * (1 + wick[0]),
        "low": np.minimum(opens, path) * (1 - wick[1]),
        "close": path,
        "spread": rng.choice(sample.column("spread").to_numpy(), k),
        "tick_volume": rng.choice(sample.column("tick_volume").to_numpy(zero_copy_only=False), k),
    }
    out = sample
    for name, values in columns.items():
        i = out.column_names.index(name)
        head = out.column(name).slice(0, cut + 1)
        tail = pa.array(values, out.schema.field(name).type, from_pandas=True)
        out = out.set_column(i, name, pa.chunked_array([*head.chunks, tail], out.schema.field(name).type))
    return out


def audit_leakage(
    sample: pa.Table,
    base: dict[str, pa.Table],
    contract: Contract,
    cut_bars: Sequence[int],
    seed: int,
    *,
    tables: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    threads: int | None = None,
) -> Audit:
    """At each cut bar T rebuild (a) with every bar after T deleted and (b) with them replaced by a random
    walk (WALK_BARS long, then the sample ends); every decision-table value at ts <= T must be identical,
    and labels at ts <= T - horizon too."""
    ts = sample.column("ts")
    start, end = ts[0].as_py(), ts[-1].as_py() + timedelta(microseconds=1)
    wanted = [*decision_tables(contract, tables), *label_tables(contract, tables)]
    horizon = contract.label_margin_bars
    seen: dict[tuple[str, str], Finding] = {}
    for i, cut in enumerate(cut_bars):
        limit, label_limit = ts[cut].as_py(), ts[max(cut - horizon, 0)].as_py()
        variants = {
            "future deleted": sample.slice(0, cut + 1),
            "future random walk": random_walk_after(sample, cut, seed + i, WALK_BARS),
        }
        for how, candles in variants.items():
            run = run_pipeline(candles, start, end, contract=contract, tables=wanted, threads=threads)
            for name in wanted:
                upto = label_limit if name in label_tables(contract) else limit
                cols = [c.name for c in audited_columns(contract.table(name), columns)]
                for f in compare_tables(
                    rows_upto(base[name], upto), rows_upto(run[name], upto), name, cols, exact=True
                ):
                    seen.setdefault(
                        (f.table, f.column),
                        Finding(
                            f.table,
                            f.column,
                            f"changes when the future after {limit} is {how}: {f.problem}",
                            f.first_ts,
                            f.size,
                        ),
                    )
    return Audit(
        "leakage",
        not seen,
        f"{len(cut_bars)} cut bars x 2 futures (deleted, random walk), tables {', '.join(wanted)}",
        tuple(seen.values()),
        "read only rows at or before the bar: lag() and trailing ROWS frames, never lead() or FOLLOWING, "
        "never an aggregate over the whole slice",
        details={"cut_ts": [str(ts[c].as_py()) for c in cut_bars]},
    )


def audit_range_independence(
    sample: pa.Table,
    base: dict[str, pa.Table],
    contract: Contract,
    seed: int,
    *,
    tables: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    threads: int | None = None,
) -> Audit:
    """A month (seeded; shorter where the sample is) computed alone, from a slice with exactly the warmup
    before it and the label margin after it, equals the same rows of the long run."""
    n, warm, margin = sample.num_rows, contract.warmup_bars, contract.label_margin_bars
    length = min(30 * 288, (n - warm - margin) // 2)
    rng = np.random.default_rng(seed)
    i0 = int(rng.integers(warm, n - margin - length))
    i1 = i0 + length
    ts = sample.column("ts")
    start, end = ts[i0].as_py(), ts[i1].as_py()
    part_slice = sample.slice(i0 - warm, i1 + margin - (i0 - warm))
    wanted = [*decision_tables(contract, tables), *label_tables(contract, tables)]
    part = run_pipeline(part_slice, start, end, contract=contract, tables=wanted, threads=threads)
    findings: list[Finding] = []
    lo, hi = pa.scalar(start, pa.timestamp("us")), pa.scalar(end, pa.timestamp("us"))
    for name in wanted:
        whole = base[name].filter(
            pc.and_(pc.greater_equal(base[name].column("ts"), lo), pc.less(base[name].column("ts"), hi))
        )
        cols = [c.name for c in audited_columns(contract.table(name), columns)]
        findings += compare_tables(whole, part[name], name, cols, exact=False)
    return Audit(
        "range independence",
        not findings,
        f"{start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} ({length} bars) alone vs inside the sample",
        tuple(findings),
        "a value may depend only on its declared lookback: no aggregate over the whole slice, no position "
        "in the slice, no running (cumulative) state",
        details={"range": [str(start), str(end)]},
    )
