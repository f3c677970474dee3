"""The validation gate: Pandera schemas generated from the contract, plus the checks that need several
columns or tables (ordering, OHLC consistency, null policies, key alignment) and feature health.

Usage::

    report = validate_tables({"candles": df, "context": df, ...}, expected_rows=52_193)
    if not report.ok: ...   # report.issues name table, column, check and failing examples

All errors are collected (Pandera's lazy mode); nothing is dropped or repaired.
"""

from __future__ import annotations

import time

import pandera.errors
import polars as pl

from schemas.contract import CONTRACT, Contract
from schemas.pandera_schemas import pandera_schema
from validation.health import feature_health
from validation.report import ValidationIssue, ValidationReport

MAX_EXAMPLES = 5


def validate_tables(
    tables: dict[str, pl.DataFrame], *, expected_rows: int | None = None, contract: Contract = CONTRACT
) -> ValidationReport:
    """Run every check over `tables` (candles of the range plus the five materialized tables)."""
    started = time.perf_counter()
    issues: list[ValidationIssue] = []
    checks = 0
    structurally_ok = True
    for table in (contract.candles, *contract.tables):
        if table.name not in tables:
            issues.append(ValidationIssue(table.name, "*", "table_present", "the table is missing"))
            structurally_ok = False
            continue
        found, n = _pandera_issues(table.name, tables[table.name], contract)
        checks += n
        issues += found
        structurally_ok &= not any(
            i.check in ("column_in_dataframe", "dtype", "column_in_schema") for i in found
        )
    if structurally_ok:
        more, n = _relational_issues(tables, expected_rows, contract)
        issues += more
        checks += n
    aligned = structurally_ok and not any(i.check in ("same_keys", "strictly_increasing") for i in issues)
    health: dict = {}
    if aligned:
        issues += _null_policy_issues(tables, contract)
        found, health = feature_health(tables, contract)
        issues += found
        checks += 3 + sum(1 for t in contract.tables for c in t.columns if c.nullable != "never")
    rows = {name: frame.height for name, frame in tables.items()}
    return ValidationReport(tuple(issues), rows, checks, time.perf_counter() - started, health)


def _pandera_issues(name: str, frame: pl.DataFrame, contract: Contract) -> tuple[list[ValidationIssue], int]:
    schema = pandera_schema(contract.table(name))
    checks = len(schema.columns) + sum(len(c.checks) for c in schema.columns.values()) + 1
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return _group_failures(name, exc.failure_cases, frame), checks
    return [], checks


def _group_failures(name: str, cases: pl.DataFrame, frame: pl.DataFrame) -> list[ValidationIssue]:
    issues = []
    ts = frame["ts"] if "ts" in frame.columns and frame.schema["ts"] == pl.Datetime("us") else None
    for (column, check), group in cases.group_by(["column", "check"], maintain_order=True):
        if check in ("column_in_schema", "column_in_dataframe"):
            # schema-level: Pandera names the table as the column and the offending column as the case
            for case in group["failure_case"]:
                detail = "not declared in the contract" if check == "column_in_schema" else "missing"
                issues.append(ValidationIssue(name, str(case), str(check), f"column {detail}"))
            continue
        examples = []
        for row in group.head(MAX_EXAMPLES).iter_rows(named=True):
            where = f" at {ts[int(row['index'])]}" if ts is not None and row["index"] is not None else ""
            examples.append(f"{row['failure_case']}{where}")
        issues.append(
            ValidationIssue(
                name, str(column or "*"), str(check), f"Pandera {check}", group.height, tuple(examples)
            )
        )
    return issues


def _relational_issues(
    tables: dict[str, pl.DataFrame], expected_rows: int | None, contract: Contract
) -> tuple[list[ValidationIssue], int]:
    issues: list[ValidationIssue] = []
    keys = tables["eligibility"].select("symbol", "ts")
    for table in (contract.candles, *contract.tables):
        frame = tables[table.name]
        if not frame["ts"].is_sorted() or frame["ts"].n_unique() != frame.height:
            issues.append(
                ValidationIssue(table.name, "ts", "strictly_increasing", "ts is not strictly increasing")
            )
        if table.name != "candles" and not frame.select("symbol", "ts").equals(keys):
            issues.append(_key_mismatch(table.name, frame, keys))
        if expected_rows is not None and frame.height != expected_rows:
            issues.append(
                ValidationIssue(
                    table.name, "*", "row_count", f"{frame.height} rows, candles in range: {expected_rows}"
                )
            )
    issues += _ohlc_issues(tables["candles"])
    return issues, 3 * (1 + len(contract.tables)) + 1


def _key_mismatch(name: str, frame: pl.DataFrame, keys: pl.DataFrame) -> ValidationIssue:
    missing = keys.join(frame.select("symbol", "ts"), on=["symbol", "ts"], how="anti")
    extra = frame.select("symbol", "ts").join(keys, on=["symbol", "ts"], how="anti")
    examples = [f"missing {t}" for t in missing["ts"].head(3)] + [f"extra {t}" for t in extra["ts"].head(2)]
    detail = f"keys differ from eligibility: {missing.height} missing, {extra.height} extra"
    return ValidationIssue(name, "ts", "same_keys", detail, missing.height + extra.height, tuple(examples))


def _ohlc_issues(candles: pl.DataFrame) -> list[ValidationIssue]:
    bad = candles.filter(
        (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("high") < pl.max_horizontal("open", "close"))
    )
    if bad.is_empty():
        return []
    examples = tuple(str(t) for t in bad["ts"].head(MAX_EXAMPLES))
    return [
        ValidationIssue("candles", "*", "ohlc_consistent", "low <= open, close <= high", bad.height, examples)
    ]


def _null_policy_issues(tables: dict[str, pl.DataFrame], contract: Contract) -> list[ValidationIssue]:
    """Nulls (and NaN) exactly where the contract allows them: warmup rows, rows without a label."""
    allowed_where = {
        "warmup": tables["eligibility"]["reason"] == "HARD_WARMUP",
        "label_unavailable": ~tables["labels"]["label_available"],
    }
    issues = []
    for table in contract.tables:
        columns = [c for c in table.columns if c.nullable != "never"]
        if not columns:
            continue
        frame = tables[table.name].with_columns(
            **{f"__{policy}": mask for policy, mask in allowed_where.items()}
        )
        missing = {
            c.name: pl.col(c.name).is_null()
            | (pl.col(c.name).is_nan().fill_null(False) if c.dtype == "float64" else False)
            for c in columns
        }
        counts = frame.select(
            *[
                (m & ~pl.col(f"__{c.nullable}")).sum().alias(f"{c.name}|unexpected")
                for c, m in zip(columns, missing.values(), strict=True)
            ],
            *[
                (~m & pl.col(f"__{c.nullable}")).sum().alias(f"{c.name}|absent")
                for c, m in zip(columns, missing.values(), strict=True)
            ],
        ).row(0, named=True)
        for key, count in counts.items():
            if not count:
                continue
            name, kind = key.split("|")
            col = table.column(name)
            wrong = (
                missing[name] & ~pl.col(f"__{col.nullable}")
                if kind == "unexpected"
                else ~missing[name] & pl.col(f"__{col.nullable}")
            )
            examples = tuple(str(t) for t in frame.filter(wrong)["ts"].head(MAX_EXAMPLES))
            detail = (
                f"null/NaN outside {col.nullable} rows"
                if kind == "unexpected"
                else f"a value in {col.nullable} rows (must be null)"
            )
            issues.append(ValidationIssue(table.name, name, "null_policy", detail, int(count), examples))
    return issues
