"""The feature contract: ONE data structure from which schemas, dataset order and hashes are derived.

Usage::

    from schemas.contract import CONTRACT, full_contract_hash
    CONTRACT.table("snap_features").by_role("feature")     # the 85 snapshot features, in order
    CONTRACT.sql_parameters()                               # what the SQL files' {{placeholders}} receive
    full_contract_hash()                                    # changes with anything that changes the data

This package imports nothing else of the project: SQL files are read as text from the repository's `sql/`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.columns import Column, Table
from schemas.features_v1 import CANDLES, MATERIALIZED_TABLES
from schemas.parameters_v1 import PARAMETERS
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
    sql_root: Path = SQL_ROOT  # the version's SQL files are `sql_root / version / *.sql`

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

    def feature_columns(self, table: str) -> tuple[Column, ...]:
        return self.table(table).by_role("feature", "categorical")

    def data_definition(self, sql_root: Path | None = None) -> dict[str, Any]:
        """Everything that changes the data, as canonical JSON-able data (no descriptions)."""
        sql_dir = (sql_root or self.sql_root) / self.version
        return {
            "version": self.version,
            "parameters": self.parameters,
            "warmup_bars": self.warmup_bars,
            "seed_context_contract": SEED_CONTEXT_CONTRACT,
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


CONTRACT = Contract(
    version=PARAMETERS["sql_version"], parameters=PARAMETERS, candles=CANDLES, tables=MATERIALIZED_TABLES
)


def full_contract_hash(contract: Contract = CONTRACT, sql_root: Path | None = None) -> str:
    """sha256 over the canonical JSON of the contract's data definition (tables, parameters, SQL)."""
    payload = json.dumps(contract.data_definition(sql_root), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


CONTRACT_HASH_KEYS = ("feature_contract_hash", "full_contract_hash")


def contract_hashes(contract: Contract = CONTRACT) -> dict[str, str]:
    """Both hashes the code stamps on materialized data, snapshots and bundles (CONTRACT_HASH_KEYS)."""
    return {
        "feature_contract_hash": compute_feature_contract_hash(),
        "full_contract_hash": full_contract_hash(contract),
    }
