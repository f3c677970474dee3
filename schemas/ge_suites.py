"""Great Expectations suites generated from the contract, as plain data (GX itself is never imported here).

GX is for people: its data docs show, per table, what the contract promises and whether a snapshot keeps
it. The gate is Pandera. Both are derived from `schemas/`, so nothing about a column is written twice.

A spec is the dict GX's `ExpectationConfiguration` takes::

    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "rsi_14", "min_value": 0, "max_value": 100},
     "meta": {"contract": "<why>", "column": {...the declaration...}}}

Rules, per table:
- the column list, in contract order;
- `ts`: not null, strictly increasing and unique (a validated table holds one symbol and timeframe);
- nullable "never": not null;
- nullable "label_unavailable": not null where the row's label is available (`row_condition` on the
  table's availability flag), which states the policy exactly instead of guessing a `mostly` fraction;
- nullable "warmup": no null check here (the warmup rows are flagged in another table, eligibility);
  the policy is written in `meta` and the Pandera gate enforces it;
- a range gives `between` (inclusive), allowed values give `in set`. GX skips nulls in both, so they
  hold for every policy.
Dtypes are not checked: GX sees pandas dtypes after the Arrow conversion (nullable int8 turns into
float64), not the contract's; the gate checks them on the Arrow/polars data.
"""

from __future__ import annotations

from typing import Any

from schemas.columns import Column, Table
from schemas.contract import CONTRACT, Contract

Spec = dict[str, Any]

TIME_KEY = "ts"
# The flag a "label_unavailable" column's null policy refers to; it must be in the same table.
LABEL_FLAG = "label_available"

_NULL_POLICY_TEXT = {
    "never": "never null",
    "warmup": "null only in HARD_WARMUP rows (see eligibility.reason); not checked by this suite",
    "label_unavailable": f"null only where {LABEL_FLAG} is false",
}


def suite_specs(contract: Contract = CONTRACT) -> dict[str, list[Spec]]:
    """Specs for the candles table and every materialized table, keyed by table name (= suite name)."""
    return {t.name: expectation_specs(t) for t in (contract.candles, *contract.tables)}


def expectation_specs(table: Table) -> list[Spec]:
    """The table's expectation specs: column order first, then each column's checks in contract order.

    Raises:
        ValueError: a column's null policy cannot be stated for this table (no label flag next to a
            "label_unavailable" column).
    """
    specs = [
        _spec(
            "expect_table_columns_to_match_ordered_list",
            {"column_list": list(table.names)},
            f"{table.name}: exactly the contract's columns, in the contract's order",
        )
    ]
    for col in table.columns:
        specs.extend(_column_specs(table, col))
    return specs


def _column_specs(table: Table, col: Column) -> list[Spec]:
    """Null-policy, ordering, range and allowed-value checks of one column.

    A column with none of these still gets `expect_column_to_exist`, so every column's declaration and
    null policy show up on its own line of the docs.
    """
    specs = _null_specs(table, col)
    if col.name == TIME_KEY:
        why = "bars are in time order with no repeated ts"
        specs.append(_col_spec(col, "expect_column_values_to_be_increasing", {"strictly": True}, why))
        why = "one row per bar (a validated table holds one symbol and timeframe)"
        specs.append(_col_spec(col, "expect_column_values_to_be_unique", {}, why))
    if col.range is not None:
        lo, hi = col.range
        why = f"hard validity range [{lo}, {hi}] {col.unit}".rstrip()
        bounds = {"min_value": lo, "max_value": hi}
        specs.append(_col_spec(col, "expect_column_values_to_be_between", bounds, why))
    if col.allowed is not None:
        why = "the contract's allowed values"
        value_set = {"value_set": list(col.allowed)}
        specs.append(_col_spec(col, "expect_column_values_to_be_in_set", value_set, why))
    if not specs:
        specs.append(_col_spec(col, "expect_column_to_exist", {}, "declared with no checkable values"))
    return specs


def _null_specs(table: Table, col: Column) -> list[Spec]:
    """The not-null check a null policy allows (none for "warmup": its rows are flagged elsewhere)."""
    if col.nullable == "never":
        return [_col_spec(col, "expect_column_values_to_not_be_null", {}, "never null")]
    if col.nullable == "label_unavailable":
        if LABEL_FLAG not in table.names:
            raise ValueError(
                f"table {table.name}: column {col.name} is null only where the label is unavailable, "
                f"but the table has no {LABEL_FLAG!r} column to say where that is"
            )
        flag = {"name": LABEL_FLAG}
        condition = {"type": "comparison", "column": flag, "operator": "==", "parameter": True}
        why = f"labelled rows ({LABEL_FLAG} = true) have every label"
        return [_col_spec(col, "expect_column_values_to_not_be_null", {"row_condition": condition}, why)]
    return []


def _col_spec(col: Column, expectation: str, kwargs: dict[str, Any], why: str) -> Spec:
    """A column-level spec whose meta carries the column's full declaration and its null policy."""
    spec = _spec(expectation, {"column": col.name, **kwargs}, f"{col.name}: {why}")
    spec["meta"]["column"] = {
        "dtype": col.dtype,
        "role": col.role,
        "unit": col.unit,
        "nullable": col.nullable,
        "null_policy": _NULL_POLICY_TEXT[col.nullable],
        "lookback": col.lookback,
        "description": col.description,
    }
    return spec


def _spec(expectation: str, kwargs: dict[str, Any], why: str) -> Spec:
    return {"type": expectation, "kwargs": kwargs, "meta": {"contract": why}}
