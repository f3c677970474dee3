"""Contract -> Pandera (polars backend) schemas. Generated, never written by hand.

Only built-in named checks are used (in_range, isin), so the schemas serialize and nothing hides in a lambda.
Frames are strict (no extra or missing columns), ordered as the contract lists them, and unique on the
table's grain. Null policies other than "never" become nullable columns here; *where* nulls may appear
(warmup rows, rows without a label) is checked by the validation gate, which sees the other tables.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.columns import Column, Table
from schemas.contract import CONTRACT, Contract

POLARS_DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "datetime": pl.Datetime("us"),
    "bool": pl.Boolean(),
    "int8": pl.Int8(),
    "int64": pl.Int64(),
    "float64": pl.Float64(),
}


def _column(col: Column) -> pa.Column:
    checks = []
    if col.range is not None:
        checks.append(pa.Check.in_range(col.range[0], col.range[1]))
    if col.allowed is not None:
        checks.append(pa.Check.isin(list(col.allowed)))
    return pa.Column(
        POLARS_DTYPES[col.dtype],
        checks=checks,
        nullable=col.nullable != "never",
        coerce=False,
        description=col.description,
    )


def pandera_schema(table: Table) -> pa.DataFrameSchema:
    """The Pandera schema of one contract table."""
    return pa.DataFrameSchema(
        {col.name: _column(col) for col in table.columns},
        strict=True,
        ordered=True,
        unique=list(table.grain),
        coerce=False,
        name=table.name,
        description=table.description,
    )


def pandera_schemas(contract: Contract = CONTRACT) -> dict[str, pa.DataFrameSchema]:
    """Schemas for the candles table and every materialized table, by table name."""
    return {t.name: pandera_schema(t) for t in (contract.candles, *contract.tables)}
