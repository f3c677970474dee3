"""The feature contract: ONE data structure from which schemas, dataset order and hashes are derived.

Usage::

    from schemas.contract import CONTRACT, full_contract_hash
    CONTRACT.table("snap_features").by_role("feature")     # the 85 snapshot features, in order
    CONTRACT.sql_parameters()                               # what the SQL files' {{placeholders}} receive
    full_contract_hash()                                    # changes with anything that changes the data

A version is a folder: `contract.toml` (schemas.declaration) and the SQL files. The built-in versions are
`sql/v1/` and `sql/v2/`, shipped with the package; `load_contract(folder)` reads any such folder.
This package imports nothing else of the project: SQL files are read as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.columns import Column, Table
from schemas.declaration import DECLARATION_FILE, DeclarationError, parse_declaration
from schemas.hashing import canonical_sha256
from schemas.seed_contract import SEED_CONTEXT_CONTRACT, compute_feature_contract_hash

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"
_COMMENT = re.compile(r"--[^\n]*")


def normalize_sql(text: str) -> str:
    """SQL without comments and with whitespace collapsed: formatting and descriptions do not change it."""
    return " ".join(_COMMENT.sub(" ", text).split())


@dataclass(frozen=True)
class Contract:
    """The tables and parameters of one contract version."""

    version: str
    parameters: dict[str, Any]
    candles: Table
    tables: tuple[Table, ...]
    sql_root: Path = SQL_ROOT  # the version's folder is `sql_root / version` (contract.toml and *.sql)
    # The context dict `feature_contract_hash` covers: the seed's unless the version declares its own.
    context_contract: dict[str, dict[str, Any]] = field(default_factory=lambda: SEED_CONTEXT_CONTRACT)
    origin: str = "built-in"  # or "user" (a folder of the user's feature repository)
    description: str = ""
    value_names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # names of categorical ids

    @property
    def folder(self) -> Path:
        return self.sql_root / self.version

    def table(self, name: str) -> Table:
        for t in (self.candles, *self.tables):
            if t.name == name:
                return t
        raise KeyError(f"the contract has no table {name!r}")

    @property
    def warmup_bars(self) -> int:
        """Earlier bars a row needs before every value is complete: the longest declared lookback."""
        return max(t.max_lookback for t in self.tables)

    @property
    def label_margin_bars(self) -> int:
        """Bars after a row that its labels may read (the entry bar is inside the horizon)."""
        return int(self.parameters["label_horizon_bars"])

    def sql_parameters(self) -> dict[str, Any]:
        """Parameters the SQL files may reference as {{name}}: numbers and lists of numbers only."""
        numeric = {k: v for k, v in self.parameters.items() if not isinstance(v, str | dict)}
        return {**numeric, "warmup_bars": self.warmup_bars}

    def value_name_map(self, column: str) -> dict[int, str]:
        """The declared names of a context categorical's ids (`value_names`), by id."""
        allowed = self.table("context").column(column).allowed or ()
        return dict(zip(allowed, self.value_names.get(column, tuple(map(str, allowed))), strict=True))

    def feature_columns(self, table: str) -> tuple[Column, ...]:
        return self.table(table).by_role("feature", "categorical")

    def data_definition(self, sql_root: Path | None = None) -> dict[str, Any]:
        """Everything that changes the data, as canonical JSON-able data (no descriptions)."""
        sql_dir = (sql_root or self.sql_root) / self.version
        return {
            "version": self.version,
            "parameters": self.parameters,
            "warmup_bars": self.warmup_bars,
            "seed_context_contract": self.context_contract,
            "tables": [
                {
                    "name": t.name,
                    "sql": t.sql,
                    "grain": list(t.grain),
                    "columns": [c.data_fields() for c in t.columns],
                }
                for t in (self.candles, *self.tables)
            ],
            "sql": {
                p.name: normalize_sql(p.read_text(encoding="utf-8")) for p in sorted(sql_dir.glob("*.sql"))
            },
        }


def load_contract(folder: Path, origin: str = "built-in") -> Contract:
    """The contract version a folder defines; its name is the folder's name.

    Raises:
        DeclarationError: the declaration is malformed, or its context columns disagree with the context dict.
    """
    decl = parse_declaration(folder / DECLARATION_FILE)
    context_dict = _context_contract(decl.path, decl.tables[0], decl.context_contract)
    return Contract(
        version=folder.name,
        parameters={"sql_version": folder.name, **decl.parameters},
        candles=decl.candles,
        tables=decl.tables,
        sql_root=folder.parent,
        context_contract=context_dict,
        origin=origin,
        description=decl.description,
        value_names=decl.value_names,
    )


def _context_contract(path: Path, context: Table, declared: dict[str, Any] | None) -> dict[str, Any]:
    """The context dict of a version: the seed's when its context columns match the seed's, else the one it
    declares (which must match its columns)."""
    reference = SEED_CONTEXT_CONTRACT if declared is None else declared
    columns = context.by_role("feature", "categorical")
    problems = [c.name for c in columns if not _agrees(c, reference.get(c.name))]
    problems += [name for name in reference if name not in {c.name for c in columns}]
    if problems:
        fix = (
            "declare the version's own [contract.context_contract.NAME] entries (type, values or range); "
            "the version then gets its own feature_contract_hash"
            if declared is None
            else "make [contract.context_contract] list each context column with its values or range"
        )
        which = "the seed's context dict" if declared is None else "[contract.context_contract]"
        raise DeclarationError(
            path, "key tables.context", f"context column {problems[0]!r} differs from {which}", fix
        )
    return reference


def _agrees(col: Column, entry: dict[str, Any] | None) -> bool:
    if entry is None:
        return False
    if col.role == "categorical":
        return entry.get("type") == "categorical" and list(col.allowed or ()) == entry.get("values")
    return entry.get("type") == "continuous" and list(col.range or ()) == entry.get("range")


CONTRACT = load_contract(SQL_ROOT / "v1")


def full_contract_hash(contract: Contract = CONTRACT, sql_root: Path | None = None) -> str:
    """sha256 over the canonical JSON of the contract's data definition (tables, parameters, SQL)."""
    return canonical_sha256(contract.data_definition(sql_root))


CONTRACT_HASH_KEYS = ("feature_contract_hash", "full_contract_hash")


def contract_hashes(contract: Contract = CONTRACT) -> dict[str, str]:
    """Both hashes the code stamps on materialized data, snapshots and bundles (CONTRACT_HASH_KEYS)."""
    return {
        "feature_contract_hash": compute_feature_contract_hash(contract.context_contract),
        "full_contract_hash": full_contract_hash(contract),
    }
