"""The contract: the seed hash, the full hash's scope, and the declarations every table relies on."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from schemas.contract import CONTRACT, SQL_ROOT, Contract, full_contract_hash, normalize_sql
from schemas.seed_contract import (
    CTX_CAT_ORDER,
    CTX_CONT_ORDER,
    SEED_CONTEXT_CONTRACT,
    SEED_FEATURE_CONTRACT_HASH,
    compute_feature_contract_hash,
)


def test_feature_contract_hash_is_the_seeds() -> None:
    assert compute_feature_contract_hash() == "93ab1d31534f2dc7" == SEED_FEATURE_CONTRACT_HASH


def test_feature_counts() -> None:
    assert len(CONTRACT.feature_columns("context")) == 7
    assert len(CONTRACT.feature_columns("seq_features")) == 13
    assert len(CONTRACT.feature_columns("snap_features")) == 85


def test_context_declarations_agree_with_the_seed_dict() -> None:
    context = CONTRACT.table("context")
    assert set(SEED_CONTEXT_CONTRACT) == set(CTX_CAT_ORDER) | set(CTX_CONT_ORDER)
    for name in CTX_CAT_ORDER:
        assert list(context.column(name).allowed) == SEED_CONTEXT_CONTRACT[name]["values"]
    for name in CTX_CONT_ORDER:
        assert list(context.column(name).range) == SEED_CONTEXT_CONTRACT[name]["range"]


def test_every_column_is_fully_declared() -> None:
    names: set[str] = set()
    for table in CONTRACT.tables:
        assert table.names[:2] == ("symbol", "ts")
        for col in table.columns:
            assert col.description.strip(), f"{table.name}.{col.name} has no description"
            if col.role == "feature":
                assert col.range is not None and col.unit, f"{table.name}.{col.name} needs a range and unit"
            if col.role == "categorical":
                assert col.allowed, f"{table.name}.{col.name} needs allowed values"
            if col.role in ("feature", "categorical"):
                assert col.name not in names, f"feature name {col.name} is used twice"
                names.add(col.name)
                assert 0 <= col.lookback <= CONTRACT.warmup_bars


def test_warmup_covers_the_vol_regime_window() -> None:
    p = CONTRACT.parameters
    assert CONTRACT.warmup_bars == p["vol_regime_window"] + p["atr_window"] - 1


def test_no_categorical_id_among_scaled_features() -> None:
    for table in ("seq_features", "snap_features"):
        for col in CONTRACT.feature_columns(table):
            assert col.role == "feature" and col.dtype == "float64", f"{col.name} must be continuous"


def test_full_hash_is_pinned() -> None:
    """A deliberate change to the data definition updates this value in the same commit."""
    assert full_contract_hash() == "f9375a1b798b1c05a591ce815adcd8a15f9695412625ea24a63e98f2b987e77f"


def _with_parameter(name: str, value: object) -> Contract:
    return dataclasses.replace(CONTRACT, parameters={**CONTRACT.parameters, name: value})


def _with_column(table: str, column: str, **changes: object) -> Contract:
    tables = tuple(
        dataclasses.replace(
            t, columns=tuple(dataclasses.replace(c, **changes) if c.name == column else c for c in t.columns)
        )
        if t.name == table
        else t
        for t in CONTRACT.tables
    )
    return dataclasses.replace(CONTRACT, tables=tables)


@pytest.mark.parametrize(
    "changed",
    [
        _with_parameter("trend_threshold", 1.3),
        _with_parameter("label_horizon_bars", 13),
        _with_parameter("session_by_utc_hour", [0] * 24),
        _with_parameter("spread_cap_bps", 2.1),
        _with_column("snap_features", "rsi_14", range=(0.0, 99.0)),
        _with_column("context", "atr_bps", lookback=15),
        _with_column("labels", "y_direction", nullable="never"),
    ],
)
def test_full_hash_changes_with_the_data_definition(changed: Contract) -> None:
    assert full_contract_hash(changed) != full_contract_hash()


def test_full_hash_ignores_descriptions_and_sql_formatting(tmp_path: Path) -> None:
    described = _with_column("snap_features", "rsi_14", description="another text")
    assert full_contract_hash(described) == full_contract_hash()
    copy = tmp_path / "sql"
    shutil.copytree(SQL_ROOT, copy)
    target = copy / CONTRACT.version / "30_snap_features.sql"
    target.write_text("-- a new comment\n" + target.read_text().replace("SELECT", "SELECT   \n"))
    assert full_contract_hash(sql_root=copy) == full_contract_hash()
    target.write_text(target.read_text().replace("* 1e4 AS ret_2_bps", "* 1e3 AS ret_2_bps"))
    assert full_contract_hash(sql_root=copy) != full_contract_hash()


def test_normalize_sql() -> None:
    assert normalize_sql("SELECT a, -- note\n   b\nFROM t  ") == "SELECT a, b FROM t"
