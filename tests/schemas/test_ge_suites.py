"""GX suite specs generated from the contract: plain data, checked without importing GX."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from schemas.columns import SYMBOL, TS, Column, Table
from schemas.contract import CONTRACT
from schemas.ge_suites import LABEL_FLAG, Spec, expectation_specs, suite_specs

ALL_TABLES = (CONTRACT.candles, *CONTRACT.tables)


def _column_specs(specs: list[Spec], column: str, kind: str | None = None) -> list[Spec]:
    return [s for s in specs if s["kwargs"].get("column") == column and kind in (None, s["type"])]


def test_validation_modules_do_not_import_great_expectations() -> None:
    code = "import sys, schemas.ge_suites, validation.data_docs; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_one_suite_per_table_in_contract_order() -> None:
    assert list(suite_specs()) == [t.name for t in ALL_TABLES]
    assert suite_specs(CONTRACT) == {t.name: expectation_specs(t) for t in ALL_TABLES}


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_every_column_is_in_its_suite_in_order(table: Table) -> None:
    specs = expectation_specs(table)
    assert specs[0]["type"] == "expect_table_columns_to_match_ordered_list"
    assert specs[0]["kwargs"] == {"column_list": list(table.names)}
    for col in table.columns:
        column_specs = _column_specs(specs, col.name)
        assert column_specs, f"{table.name}.{col.name} has no expectation of its own"
        assert all(s["meta"]["column"]["description"] == col.description for s in column_specs)


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_ranges_and_allowed_values_are_copied_exactly(table: Table) -> None:
    specs = expectation_specs(table)
    for col in table.columns:
        between = _column_specs(specs, col.name, "expect_column_values_to_be_between")
        in_set = _column_specs(specs, col.name, "expect_column_values_to_be_in_set")
        if col.range is None:
            assert between == []
        else:
            [spec] = between
            lo, hi = spec["kwargs"]["min_value"], spec["kwargs"]["max_value"]
            assert (lo, hi) == col.range and (type(lo), type(hi)) == tuple(type(v) for v in col.range)
        if col.allowed is None:
            assert in_set == []
        else:
            [spec] = in_set
            assert spec["kwargs"]["value_set"] == list(col.allowed)


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_null_policies(table: Table) -> None:
    specs = expectation_specs(table)
    for col in table.columns:
        not_null = _column_specs(specs, col.name, "expect_column_values_to_not_be_null")
        if col.nullable == "never":
            assert [s["kwargs"] for s in not_null] == [{"column": col.name}]
        elif col.nullable == "label_unavailable":
            [spec] = not_null
            condition = spec["kwargs"]["row_condition"]
            assert condition["column"] == {"name": LABEL_FLAG} and condition["parameter"] is True
        else:  # warmup: nulls are allowed in rows flagged in another table; the policy is documented
            assert not_null == []
        for spec in _column_specs(specs, col.name):
            assert spec["meta"]["column"]["nullable"] == col.nullable
            assert "mostly" not in spec["kwargs"]


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_ts_is_strictly_increasing_and_unique(table: Table) -> None:
    specs = expectation_specs(table)
    [increasing] = _column_specs(specs, "ts", "expect_column_values_to_be_increasing")
    assert increasing["kwargs"]["strictly"] is True
    assert len(_column_specs(specs, "ts", "expect_column_values_to_be_unique")) == 1


def test_specs_are_plain_json_data_with_a_reason() -> None:
    for specs in suite_specs().values():
        assert json.loads(json.dumps(specs)) == specs
        for spec in specs:
            assert set(spec) == {"type", "kwargs", "meta"} and spec["type"].startswith("expect_")
            assert spec["meta"]["contract"]


def test_a_label_policy_without_the_label_flag_is_a_clear_error() -> None:
    label = Column("y", "int8", "label", "class", "A label.", allowed=(0, 1), nullable="label_unavailable")
    with pytest.raises(ValueError, match="no 'label_available' column"):
        expectation_specs(Table("bad", None, "A table without the flag.", (SYMBOL, TS, label)))


def test_a_column_without_checkable_values_still_gets_a_line() -> None:
    note = Column("note", "str", "meta", "", "Free text.", nullable="warmup")
    specs = expectation_specs(Table("notes", None, "Notes.", (SYMBOL, TS, note)))
    assert [s["type"] for s in _column_specs(specs, "note")] == ["expect_column_to_exist"]
