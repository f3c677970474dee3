"""The SQL registry: headers, rendering from contract parameters only, and SQL/contract agreement."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from featurestore.compute.online import featurize_window
from featurestore.compute.pipeline import run_pipeline
from featurestore.compute.sql_registry import SQL_ROOT, load_sql_version, parse_sql_file
from featurestore.errors import ContractError
from schemas.contract import CONTRACT
from schemas.versions import CONTRACTS, DEFAULT_CONTRACT
from tests.conftest import SYNTH_END, SYNTH_START

FILES = load_sql_version(CONTRACT.version)


def test_every_file_has_its_header_and_renders() -> None:
    assert [f.name for f in FILES] == [
        "bars",
        "context",
        "seq_features",
        "snap_features",
        "eligibility",
        "labels",
    ]
    params = CONTRACT.sql_parameters()
    for f in FILES:
        assert f.version == CONTRACT.version and f.grain == "(symbol, ts)" and f.description
        assert "{{" not in f.render(params)


def test_every_contract_table_names_an_existing_file() -> None:
    on_disk = {f.path.name for f in FILES}
    assert {t.sql for t in CONTRACT.tables} <= on_disk


@pytest.mark.parametrize("sql_file", [f for f in FILES if f.name != "labels"], ids=lambda f: f.name)
def test_decision_time_sql_never_looks_forward(sql_file) -> None:
    """Only the labels file may read later rows; features and eligibility use trailing frames and lag only."""
    body = sql_file.render(CONTRACT.sql_parameters()).upper()
    assert "FOLLOWING" not in body and not re.search(r"\bLEAD\s*\(", body)


def test_unknown_parameter_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.sql"
    path.write_text(
        "-- name: x\n-- version: v1\n-- grain: (symbol, ts)\n-- depends_on: bars\n-- description: d\n"
        "SELECT {{no_such_parameter}}\n"
    )
    with pytest.raises(ContractError, match="unknown parameter 'no_such_parameter'"):
        parse_sql_file(path).render(CONTRACT.sql_parameters())


def test_missing_header_and_duplicate_names_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "v1"
    folder.mkdir()
    (folder / "a.sql").write_text("-- name: a\nSELECT 1\n")
    with pytest.raises(ContractError, match="header lacks version, grain, depends_on, description"):
        load_sql_version("v1", root=tmp_path)
    header = "-- name: a\n-- version: v1\n-- grain: (symbol, ts)\n-- depends_on: bars\n-- description: d\n"
    (folder / "a.sql").write_text(header.replace("bars", "candles_slice") + "SELECT 1\n")
    (folder / "b.sql").write_text(header.replace("bars", "candles_slice") + "SELECT 2\n")
    with pytest.raises(ContractError, match="duplicate name 'a'"):
        load_sql_version("v1", root=tmp_path)


def test_sql_columns_must_match_the_contract(synthetic_slice: pa.Table, tmp_path: Path) -> None:
    """A SQL file that adds an undeclared column (or drops one) is refused, naming the file and columns."""
    copy = tmp_path / "sql"
    shutil.copytree(SQL_ROOT, copy)
    target = copy / CONTRACT.version / "20_seq_features.sql"
    target.write_text(
        target.read_text().replace("r1 AS ret_1_bps,", "r1 AS ret_1_bps,\n    r1 * 2 AS extra_col,")
    )
    edited = dataclasses.replace(CONTRACT, sql_root=copy)
    with pytest.raises(ContractError, match=r"not declared \['extra_col'\]"):
        run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=edited)


@pytest.mark.parametrize("version", sorted(CONTRACTS))
def test_sql_output_columns_equal_the_contract(synthetic_slice: pa.Table, version: str) -> None:
    contract = CONTRACTS[version]
    tables = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=contract)
    for table in contract.tables:
        assert tuple(tables[table.name].column_names) == table.names


def test_the_pure_pipeline_and_the_online_featurizer_default_to_the_stores_default(
    synthetic_slice: pa.Table,
) -> None:
    """`materialize`, `run_pipeline` and `featurize_window` without a contract all use the default version,
    so library callers compare like with like."""
    tables = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END)
    assert tuple(tables["labels"].column_names) == DEFAULT_CONTRACT.table("labels").names
    online = featurize_window(synthetic_slice, 1)
    assert tuple(online["eligibility"].column_names) == DEFAULT_CONTRACT.table("eligibility").names
