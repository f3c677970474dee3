"""Feature health on the check's sample, an audit of `fs contract check`: outside warmup no NULL or NaN where
the declaration forbids it, every value inside its declared range or allowed set, no constant model input,
no pair of continuous inputs with |corr| above 0.99 (named).

Usage::

    audit_health(base, contract).findings
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.compute.contract_audit import Audit, Finding, audited_columns
from schemas.columns import Column
from schemas.contract import Contract

MAX_ABS_CORR = 0.99


def audit_health(
    base: dict[str, pa.Table],
    contract: Contract,
    *,
    tables: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> Audit:
    """`base`: the tables of the whole sample, row i of each at slice position i (rows before
    `warmup_bars` are warmup)."""
    warm = contract.warmup_bars
    findings: list[Finding] = []
    floats: list[tuple[str, str, np.ndarray]] = []
    rows = 0
    for table in contract.tables:
        if tables is not None and table.name not in tables:
            continue
        data = base[table.name].slice(warm)
        rows = max(rows, data.num_rows)
        for col in audited_columns(table, columns):
            values = data.column(col.name)
            findings += _nulls(table.name, col, values) + _range(table.name, col, values)
            if col.role in ("feature", "categorical"):
                findings += _constant(table.name, col, values)
                if col.dtype == "float64":
                    floats.append((table.name, col.name, values.to_numpy(zero_copy_only=False).astype(float)))
    findings += _correlated(floats)
    return Audit(
        "feature health",
        not findings,
        f"{rows:,} rows outside warmup, {len(floats)} continuous inputs",
        tuple(findings),
        "give every ratio a value for a zero denominator, declare the real range, drop constant or "
        "duplicate inputs",
    )


def _nulls(table: str, col: Column, values: pa.ChunkedArray) -> list[Finding]:
    if col.nullable == "label_unavailable":
        return []
    missing = values.null_count
    if pa.types.is_floating(values.type):
        missing += int(pc.sum(pc.is_nan(values.fill_null(0.0))).as_py() or 0)
    if not missing:
        return []
    return [
        Finding(table, col.name, f"{missing:,} NULL/NaN rows outside warmup (null policy {col.nullable})")
    ]


def _range(table: str, col: Column, values: pa.ChunkedArray) -> list[Finding]:
    if col.range is not None and (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        x = values.to_numpy(zero_copy_only=False).astype(float)
        lo, hi = col.range
        with np.errstate(invalid="ignore"):
            out = (x < lo) | (x > hi)
        if out.any():
            return [
                Finding(
                    table,
                    col.name,
                    f"{int(out.sum()):,} rows outside the declared range [{lo}, {hi}]: "
                    f"min {np.nanmin(x):.6g}, max {np.nanmax(x):.6g}",
                )
            ]
    if col.allowed is not None:
        seen = set(pc.unique(values.drop_null()).to_pylist())
        extra = sorted(seen - set(col.allowed), key=str)
        if extra:
            return [Finding(table, col.name, f"values {extra[:5]} outside the allowed {list(col.allowed)}")]
    return []


def _constant(table: str, col: Column, values: pa.ChunkedArray) -> list[Finding]:
    distinct = pc.unique(values.drop_null())
    if len(distinct) == 1:
        return [Finding(table, col.name, f"constant: always {distinct[0].as_py()!r}")]
    return []


def _correlated(floats: list[tuple[str, str, np.ndarray]]) -> list[Finding]:
    if len(floats) < 2:
        return []
    matrix = np.column_stack([v for _, _, v in floats])
    matrix = matrix[np.isfinite(matrix).all(axis=1)]
    std = matrix.std(axis=0)
    keep = np.flatnonzero(std > 0)
    if len(keep) < 2 or matrix.shape[0] < 3:
        return []
    corr = np.abs(np.corrcoef(matrix[:, keep], rowvar=False))
    out = []
    for i, j in zip(*np.nonzero(np.triu(corr, k=1) > MAX_ABS_CORR), strict=True):
        (ta, a, _), (tb, b, _) = floats[keep[i]], floats[keep[j]]
        out.append(Finding(tb, b, f"|corr| with {ta}.{a} is {corr[i, j]:.4f} (limit {MAX_ABS_CORR})"))
    return out
