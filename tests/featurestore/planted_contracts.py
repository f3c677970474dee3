"""User contract versions for the `fs contract check` tests: v2 plus one table, `user_features`, made by a
SQL file the test writes. The ONE place tests build a user version (switch it to the contract-folder
mechanism when that lands).

Usage::

    contract = user_version(tmp_path, "u_lead", "lead(close) OVER (ORDER BY pos) / close - 1 AS next_ret",
                            [feature("next_ret", 0)])
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from schemas.columns import SYMBOL, TS, Column, Table
from schemas.contract import SQL_ROOT, Contract
from schemas.versions import CONTRACT_V2

USER_FILE = "35_user_features.sql"


def feature(name: str, lookback: int, lo: float = -1e6, hi: float = 1e6) -> Column:
    return Column(name, "float64", "feature", "ratio", f"planted {name}", (lo, hi), None, "warmup", lookback)


def user_version(root: Path, name: str, select: str, columns: list[Column]) -> Contract:
    """v2 copied under version `name` into `root/sql/name`, plus `USER_FILE` selecting `select` from the
    bars table, declared as `columns`."""
    folder = root / "sql" / name
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((SQL_ROOT / "v2").glob("*.sql")):
        text = path.read_text(encoding="utf-8").replace("-- version: v2", f"-- version: {name}", 1)
        (folder / path.name).write_text(text, encoding="utf-8")
    write_user_sql(root, name, select)
    table = Table("user_features", USER_FILE, "planted user features", (SYMBOL, TS, *columns))
    return dataclasses.replace(
        CONTRACT_V2,
        version=name,
        parameters={**CONTRACT_V2.parameters, "sql_version": name},
        tables=(*CONTRACT_V2.tables, table),
        sql_root=root / "sql",
    )


def write_user_sql(root: Path, name: str, select: str) -> Path:
    path = root / "sql" / name / USER_FILE
    path.write_text(
        f"-- name: user_features\n-- version: {name}\n-- grain: (symbol, ts)\n-- depends_on: bars\n"
        f"-- description: planted user features\nSELECT symbol, ts, {select}\nFROM bars\n",
        encoding="utf-8",
    )
    return path


def remove(root: Path) -> None:
    shutil.rmtree(root / "sql", ignore_errors=True)
