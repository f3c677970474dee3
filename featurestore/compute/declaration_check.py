"""Consistency of a contract version at load: its declaration against what its SQL produces.

Each SQL file runs over an empty candle slice in the SQL sandbox (`sql_sandbox.py`: the same one-SELECT
rule, locked settings and error positions as a materialize run), and the columns and types of
its output are compared with the declared table (the way dbt enforces a model contract). A column declared
but not produced is "missing in SQL", one produced but not declared is "missing in declaration", and a
type other than the declared dtype's is "dtype differs: declared float64, SQL gives VARCHAR". Every
difference of every table is listed in one `ContractError`, raised before anything is written.

Usage::

    check_definition(contract)          # before materialize writes; `fs contract show` runs it too
"""

from __future__ import annotations

import pyarrow as pa

from featurestore.compute.sql_registry import SqlFile, load_sql_version
from featurestore.compute.sql_sandbox import checked_queries, open_sandbox, run_file
from featurestore.errors import ContractError
from featurestore.store.ddl import SQL_TYPES
from schemas.columns import Table
from schemas.contract import Contract, full_contract_hash
from schemas.declaration import DECLARATION_FILE

_EMPTY_SLICE = pa.schema(
    [
        ("symbol", pa.string()),
        ("ts", pa.timestamp("us")),
        *[(name, pa.float64()) for name in ("open", "high", "low", "close")],
        ("tick_volume", pa.int64()),
        ("spread", pa.float64()),
    ]
).empty_table()
_checked: set[tuple[str, str]] = set()  # (folder, full_contract_hash) pairs already found consistent


def check_definition(contract: Contract) -> None:
    """Refuse a version whose SQL output and declaration disagree (columns or types).

    Raises:
        ContractError: a table's SQL file is missing, or columns differ; the message names the folder,
            each table and column, and how to fix it.
        ContractSqlError: a SQL file is refused by the sandbox or fails on an empty slice (its file, line
            and column).
    """
    files = load_sql_version(contract.version, contract.sql_root)
    key = (str(contract.folder), full_contract_hash(contract))
    if key in _checked:
        return
    problems = _problems(contract, files)
    if problems:
        raise ContractError(
            f"contract {contract.version} ({contract.folder}): the declaration ({DECLARATION_FILE}) and the "
            "SQL disagree; nothing was written:\n  "
            + "\n  ".join(problems)
            + f"\n  how to fix: make each SQL file's output and its table in {DECLARATION_FILE} name the "
            "same columns with the same types"
        )
    _checked.add(key)


def _problems(contract: Contract, files: tuple[SqlFile, ...]) -> list[str]:
    by_file = {f.path.name: f for f in files}
    problems = [
        f"table {t.name}: SQL file {t.sql} is declared but not in the folder"
        for t in contract.tables
        if t.sql not in by_file
    ]
    if problems:
        return problems
    sandbox = open_sandbox(threads=1)
    con = sandbox.cursor()
    try:
        params = contract.sql_parameters()
        queries = checked_queries(con, files, params)  # refuses anything but one SELECT per file
        con.register("candles_slice", _EMPTY_SLICE)
        con.execute("CREATE TEMP TABLE blocked_intervals (start_ts TIMESTAMP, end_ts TIMESTAMP)")
        for f in files:
            run_file(con, f, queries[f.name], params)
        for table in contract.tables:
            produced = {
                row[0]: row[1] for row in con.execute(f"DESCRIBE {by_file[table.sql].name}").fetchall()
            }
            problems += _table_problems(table, by_file[table.sql], produced)
    finally:
        con.close()
        sandbox.close()
    return problems


def _table_problems(table: Table, sql_file: SqlFile, produced: dict[str, str]) -> list[str]:
    where = f"table {table.name} ({sql_file.path.name})"
    problems = [
        f"{where}: column {col.name!r} missing in SQL (declared as {col.dtype}; produce it in "
        f"{sql_file.path.name} or remove its declaration)"
        for col in table.columns
        if col.name not in produced
    ]
    declared = set(table.names)
    problems += [
        f"{where}: column {name!r} missing in declaration (the SQL gives {sql_type}; declare it under "
        f"[tables.{table.name}] or drop it from the SQL)"
        for name, sql_type in produced.items()
        if name not in declared
    ]
    problems += [
        f"{where}: column {col.name!r} dtype differs: declared {col.dtype}, SQL gives {produced[col.name]} "
        f"(cast it to {SQL_TYPES[col.dtype]} in the SQL or declare the dtype it has)"
        for col in table.columns
        if col.name in produced and produced[col.name] != SQL_TYPES[col.dtype]
    ]
    return problems
