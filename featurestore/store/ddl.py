"""CREATE TABLE statements generated from the contract's table declarations (`schemas.columns.Table`).

A column's DuckDB type comes from its dtype and it is NOT NULL exactly when its null policy is "never",
so the store's tables and the contract cannot drift apart. Store-only columns (e.g. `ingest_id` of
`candles`) and keys are passed in by the caller.

Usage::

    con.execute(create_table(CANDLES, extra=("ingest_id INTEGER NOT NULL",), primary_key=CANDLES.grain))
"""

from __future__ import annotations

from schemas.columns import Table

SQL_TYPES = {
    "str": "VARCHAR",
    "datetime": "TIMESTAMP",
    "bool": "BOOLEAN",
    "int8": "TINYINT",
    "int64": "BIGINT",
    "float64": "DOUBLE",
}


def create_table(
    table: Table,
    name: str | None = None,
    *,
    extra: tuple[str, ...] = (),
    primary_key: tuple[str, ...] = (),
) -> str:
    """`CREATE TABLE IF NOT EXISTS` for `table` (under `name`, default the table's own name)."""
    cols = [
        f"{c.name} {SQL_TYPES[c.dtype]}" + (" NOT NULL" if c.nullable == "never" else "")
        for c in table.columns
    ]
    cols += list(extra)
    if primary_key:
        cols.append(f"PRIMARY KEY ({', '.join(primary_key)})")
    return f"CREATE TABLE IF NOT EXISTS {name or table.name} ({', '.join(cols)})"
