"""User contract versions for the `fs contract check` tests: a real user version folder made from v2 with
`new_version`, whose snapshot table `snap_features` gains planted columns. The ONE place tests build a user
version with planted features.

The planted columns are appended to `[tables.snap_features]` in the copied contract.toml, and the copied
`30_snap_features.sql` joins them onto v2's body (`SELECT s.*, u.* EXCLUDE (symbol, ts) FROM (<v2 body>) s
JOIN (SELECT symbol, ts, <select> FROM bars) u USING (symbol, ts)`); the version is then loaded through the
normal resolution (`contract_for(name, contracts_dir)`).

Usage::

    contract = user_version(tmp_path, "u_lead", "lead(close) OVER (ORDER BY pos) / close - 1 AS next_ret",
                            [feature("next_ret", 0)])
    contract.folder                         # tmp_path / "contracts" / "u_lead"
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from featurestore.compute.contract_repo import new_version
from featurestore.compute.sql_registry import parse_sql_file
from schemas.columns import Column
from schemas.contract import SQL_ROOT, Contract
from schemas.declaration import DECLARATION_FILE
from schemas.versions import contract_for

TABLE = "snap_features"  # the table the planted columns are added to
SNAP_FILE = "30_snap_features.sql"


def feature(name: str, lookback: int, lo: float = -1e6, hi: float = 1e6) -> Column:
    return Column(name, "float64", "feature", "ratio", f"planted {name}", (lo, hi), None, "warmup", lookback)


def contracts_dir(root: Path) -> Path:
    """The feature repository the planted versions live in."""
    return root / "contracts"


def user_version(root: Path, name: str, select: str, columns: list[Column]) -> Contract:
    """v2 copied as user version `name` into `root/contracts/name`, its `snap_features` table extended by
    `columns` (declared) and `select` (computed from the bars table)."""
    folder = new_version(name, "v2", contracts_dir=contracts_dir(root))
    declaration = folder / DECLARATION_FILE
    declaration.write_text(_with_columns(declaration.read_text(encoding="utf-8"), columns), encoding="utf-8")
    write_user_sql(root, name, select)
    return contract_for(name, contracts_dir(root))


def write_user_sql(root: Path, name: str, select: str) -> Path:
    """Rewrite the version's `30_snap_features.sql` so its planted columns are `select` (the folder is
    edited; load the version again to see it)."""
    original = SQL_ROOT / "v2" / SNAP_FILE
    body = parse_sql_file(original).body.strip()
    text = original.read_text(encoding="utf-8")
    head = text[: text.index(body)].replace("-- version: v2", f"-- version: {name}", 1)
    path = contracts_dir(root) / name / SNAP_FILE
    path.write_text(
        f"{head}SELECT s.*, u.* EXCLUDE (symbol, ts)\nFROM (\n{body}\n) s\n"
        f"JOIN (SELECT symbol, ts, {select}\nFROM bars) u USING (symbol, ts)\n",
        encoding="utf-8",
    )
    return path


def remove(root: Path) -> None:
    shutil.rmtree(contracts_dir(root), ignore_errors=True)


def _with_columns(toml: str, columns: list[Column]) -> str:
    """The declaration text with `columns` appended to `[tables.snap_features]`'s column list."""
    section = toml.index(f"[tables.{TABLE}]")
    closing = toml.index("\n]", toml.index("columns = [", section))
    lines = "".join(f"\n  {_column_line(c)}," for c in columns)
    return toml[:closing] + lines + toml[closing:]


def _column_line(col: Column) -> str:
    fields = {"name": col.name, "dtype": col.dtype, "role": col.role, "unit": col.unit}
    if col.range is not None:
        fields["range"] = [float(x) for x in col.range]
    fields |= {"nullable": col.nullable, "lookback": col.lookback, "description": col.description}
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in fields.items()) + " }"
