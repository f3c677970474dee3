"""`fs contract diff A B [--data]`: what changed between two contract versions and what it forces.

The definition diff compares the declarations (tables, columns and their data fields), the parameters
(the version's own name aside) and the SQL files (comments and formatting aside, shown as a unified diff),
then derives what that forces: which tables must be re-materialized (a changed file or declaration, a
changed parameter a file renders, or a dependency that must itself be rebuilt), whether the warmup changes,
and whether the model's inputs change (the ordered feature and categorical columns with their dtype and
classes: if they do, A's bundles cannot serve B). `--data` compares the two versions' stored tables row by
row on a range, column by column (the shape of SQLMesh's table_diff).

Usage::

    diff_definitions(contract_for("v1"), contract_for("v2"))["forces"]["rematerialize"]
    diff_data(con, a, b, "XAUUSD", start, end)["context"]["columns"]["atr_bucket"]["differing"]
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from featurestore.compute.sql_registry import load_sql_version
from featurestore.errors import MaterializeError
from featurestore.store.handle import Store, utc_day_range
from featurestore.store.versions import stored_table
from schemas.contract import Contract, normalize_sql

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_MODEL_FIELDS = ("name", "dtype", "role", "allowed")


def diff_definitions(a: Contract, b: Contract) -> dict[str, Any]:
    """The definition diff of `a` -> `b` and what it forces (JSON-able)."""
    tables = _table_changes(a, b)
    params = _parameter_changes(a, b)
    sql = _sql_changes(a, b)
    forces = _forces(a, b, tables, params, sql)
    return {
        "a": a.version,
        "b": b.version,
        "tables": tables,
        "parameters": params,
        "sql_files": sql,
        "forces": forces,
    }


def _table_changes(a: Contract, b: Contract) -> dict[str, Any]:
    ta, tb = {t.name: t for t in a.tables}, {t.name: t for t in b.tables}
    out: dict[str, Any] = {
        "added": sorted(set(tb) - set(ta)),
        "removed": sorted(set(ta) - set(tb)),
        "columns": {},
    }
    for name in [t for t in ta if t in tb]:
        ca = {c.name: c.data_fields() for c in ta[name].columns}
        cb = {c.name: c.data_fields() for c in tb[name].columns}
        changed = {
            col: {k: [ca[col][k], cb[col][k]] for k in ca[col] if ca[col][k] != cb[col][k]}
            for col in ca
            if col in cb and ca[col] != cb[col]
        }
        entry = {
            "added": [c for c in cb if c not in ca],
            "removed": [c for c in ca if c not in cb],
            "changed": changed,
        }
        if any(entry.values()):
            out["columns"][name] = entry
    return out


def _parameter_changes(a: Contract, b: Contract) -> dict[str, Any]:
    pa_, pb = ({k: v for k, v in c.parameters.items() if k != "sql_version"} for c in (a, b))
    return {
        "added": {k: pb[k] for k in sorted(set(pb) - set(pa_))},
        "removed": {k: pa_[k] for k in sorted(set(pa_) - set(pb))},
        "changed": {k: [pa_[k], pb[k]] for k in sorted(set(pa_) & set(pb)) if pa_[k] != pb[k]},
    }


def _sql_changes(a: Contract, b: Contract) -> dict[str, Any]:
    fa = {f.path.name: f for f in load_sql_version(a.version, a.sql_root)}
    fb = {f.path.name: f for f in load_sql_version(b.version, b.sql_root)}
    changed = {}
    for name in sorted(set(fa) & set(fb)):
        text_a, text_b = (f.path.read_text(encoding="utf-8") for f in (fa[name], fb[name]))
        if normalize_sql(text_a) != normalize_sql(text_b):
            changed[name] = "".join(
                difflib.unified_diff(
                    text_a.splitlines(keepends=True),
                    text_b.splitlines(keepends=True),
                    f"{a.version}/{name}",
                    f"{b.version}/{name}",
                )
            )
    return {"added": sorted(set(fb) - set(fa)), "removed": sorted(set(fa) - set(fb)), "changed": changed}


def _forces(
    a: Contract, b: Contract, tables: dict[str, Any], params: dict[str, Any], sql: dict[str, Any]
) -> dict[str, Any]:
    moved = set(params["changed"]) | set(params["added"]) | set(params["removed"])
    files = load_sql_version(b.version, b.sql_root)
    rebuilt: dict[str, list[str]] = {}
    for f in files:  # registry order: a file's dependencies come first
        used = sorted(moved & set(_placeholders(f.body)))
        deps = [d for d in f.depends_on if d in rebuilt]
        why = (
            (
                [f"{f.path.name} changed"]
                if f.path.name in sql["changed"] or f.path.name in sql["added"]
                else []
            )
            + ([f"renders changed parameter(s) {', '.join(used)}"] if used else [])
            + ([f"depends on {', '.join(deps)}"] if deps else [])
        )
        if why:
            rebuilt[f.name] = why
    remat = {}
    for t in b.tables:
        file_name = next((f.name for f in files if f.path.name == t.sql), None)
        why = (
            (["new table"] if t.name in tables["added"] else [])
            + (["declaration changed"] if t.name in tables["columns"] else [])
            + rebuilt.get(file_name or "", [])
        )
        if why:
            remat[t.name] = "; ".join(why)
    inputs_a, inputs_b = _model_inputs(a), _model_inputs(b)
    return {
        "rematerialize": remat,
        "warmup_bars": [a.warmup_bars, b.warmup_bars],
        "warmup_changes": a.warmup_bars != b.warmup_bars,
        "model_inputs_change": inputs_a != inputs_b,
        "model_inputs": (
            f"unchanged: the same {len(inputs_b)} input columns (names, order, dtypes, classes)"
            if inputs_a == inputs_b
            else f"changed: {a.version}'s bundles cannot serve {b.version}"
        ),
    }


def _placeholders(body: str) -> list[str]:
    return _PLACEHOLDER.findall(body)


def _model_inputs(c: Contract) -> list[tuple[str, tuple[Any, ...]]]:
    return [
        (t.name, tuple(col.data_fields()[k] for k in _MODEL_FIELDS))
        for t in c.tables
        for col in t.by_role("feature", "categorical")
    ]


def diff_data(
    con: duckdb.DuckDBPyConnection, a: Contract, b: Contract, symbol: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """Per shared table and column of the two versions' stored tables on [start, end): rows compared, rows
    differing (NULL-safe; NaN equals NaN), max absolute and relative difference, first differing ts."""
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    out: dict[str, Any] = {}
    for ta in a.tables:
        if ta.name not in {t.name for t in b.tables}:
            continue
        tb = b.table(ta.name)
        sa, sb = stored_table(a, ta), stored_table(b, tb)
        missing = [s for s in (sa, sb) if s not in present]
        if missing:
            out[ta.name] = {"error": f"not materialized: {', '.join(missing)}"}
            continue
        shared = [c for c in ta.columns if c.role != "key" and c.name in tb.names]
        out[ta.name] = _compare_stored(con, sa, sb, shared, symbol, start, end)
    return out


def _compare_stored(
    con: duckdb.DuckDBPyConnection,
    sa: str,
    sb: str,
    columns: list,
    symbol: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    where = "symbol = ? AND ts >= ? AND ts < ?"
    counts = con.execute(
        f"SELECT (SELECT count(*) FROM {sa} WHERE {where}), (SELECT count(*) FROM {sb} WHERE {where})",
        [symbol, start, end] * 2,
    ).fetchall()[0]
    parts = []
    for c in columns:
        x, y = f"x.{c.name}", f"y.{c.name}"
        differ = f"{x} IS DISTINCT FROM {y}"
        numeric = c.dtype in ("float64", "int8", "int64")
        gap = f"abs({x}::DOUBLE - {y}::DOUBLE)"
        parts += [
            f"count(*) FILTER (WHERE {differ})",
            f"max({gap}) FILTER (WHERE {differ})" if numeric else "NULL",
            f"max({gap} / nullif(abs({x}::DOUBLE), 0)) FILTER (WHERE {differ})" if numeric else "NULL",
            f"min(x.ts) FILTER (WHERE {differ})",
        ]
    row = con.execute(
        f"SELECT count(*), {', '.join(parts)} FROM (SELECT * FROM {sa} WHERE {where}) x "
        f"JOIN (SELECT * FROM {sb} WHERE {where}) y USING (symbol, ts)",
        [symbol, start, end] * 2,
    ).fetchall()[0]
    compared = int(row[0])
    cols = {}
    for i, c in enumerate(columns):
        n, mx, rel, first = row[1 + 4 * i : 5 + 4 * i]
        cols[c.name] = {
            "rows": compared,
            "differing": int(n),
            "max_abs_diff": mx,
            "max_rel_diff": rel,
            "first_differing_ts": str(first) if first is not None else None,
        }
    return {"rows_a": counts[0], "rows_b": counts[1], "rows_compared": compared, "columns": cols}


def contract_diff(
    a: Contract,
    b: Contract,
    store: Store | None = None,
    symbol: str = "XAUUSD",
    days: tuple[date, date] | None = None,
) -> dict[str, Any]:
    """The definition diff, and with a `store` the data diff on `days` (default: the symbol's last 365
    days of candles)."""
    result: dict[str, Any] = {"definition": diff_definitions(a, b), "data": None, "data_range": None}
    if store is None:
        return result
    with store.connect(read_only=True) as con:
        if days is None:
            last = con.execute("SELECT max(ts) FROM candles WHERE symbol = ?", [symbol]).fetchall()[0][0]
            if last is None:
                raise MaterializeError(f"no candles of {symbol} in the store: run `fs ingest` first")
            days = (last.date() - timedelta(days=364), last.date())
        start, end = utc_day_range(*days)
        result["data"] = diff_data(con, a, b, symbol, start, end)
    result["data_range"] = f"{days[0]}..{days[1]}"
    return result
