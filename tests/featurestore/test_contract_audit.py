"""`fs contract check`'s audits catch planted defects in a user version and name the column; the built-in
versions and a clean user feature pass. The planted columns are added to v2's snap_features table of a user
version folder; on the ~10k-bar synthetic slice only they are audited (`columns=`), so each test takes
seconds; tests/featurestore/test_contract_check.py runs the full check."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from featurestore.compute.contract_check import ContractAudit, audit_contract
from schemas.versions import CONTRACTS
from tests.featurestore.planted_contracts import feature, user_version

USER = ("snap_features",)
EMA = "2.0 / 4033"  # a two-week EMA of M5 closes: its memory outlasts 4x the longest declared lookback


def audit(sample: pa.Table, tmp_path: Path, select: str, columns: list, cuts: int = 3) -> ContractAudit:
    contract = user_version(tmp_path, "u1", select, columns)
    planted = [c.name for c in columns]
    return audit_contract(sample, contract, cuts=cuts, seed=7, tables=USER, columns=planted)


def failing(result: ContractAudit) -> dict[str, list[str]]:
    """Audit name -> the findings' lines, for the failing audits."""
    return {a.name: [f.line() for f in a.findings] for a in result.audits if not a.passed}


def test_a_clean_user_feature_passes_every_audit(synthetic_slice: pa.Table, tmp_path: Path) -> None:
    select = (
        "(close - avg(close) OVER (ORDER BY pos ROWS BETWEEN 19 PRECEDING AND CURRENT ROW)) / close * 1e4"
        " AS dist_sma20_bps"
    )
    result = audit(synthetic_slice, tmp_path, select, [feature("dist_sma20_bps", 19)])
    assert result.passed, failing(result)


def test_lead_close_is_a_leak_named_with_its_first_ts(synthetic_slice: pa.Table, tmp_path: Path) -> None:
    select = "ln(lead(close) OVER (ORDER BY pos) / close) * 1e4 AS next_ret_bps"
    result = audit(synthetic_slice, tmp_path, select, [feature("next_ret_bps", 0)])
    leaks = next(a for a in result.audits if a.name == "leakage")
    assert not leaks.passed
    assert [(f.table, f.column) for f in leaks.findings] == [("snap_features", "next_ret_bps")]
    cut = leaks.findings[0]
    assert (
        cut.first_ts is not None and cut.first_ts in leaks.details["cut_ts"]
    )  # the bar at the cut reads T+1
    assert cut.size is not None and cut.size > 0


def test_a_centered_window_is_a_leak(synthetic_slice: pa.Table, tmp_path: Path) -> None:
    select = (
        "(close / avg(close) OVER (ORDER BY pos ROWS BETWEEN 6 PRECEDING AND 6 FOLLOWING) - 1) * 1e4"
        " AS centered_dev_bps"
    )
    result = audit(synthetic_slice, tmp_path, select, [feature("centered_dev_bps", 6)])
    assert any("snap_features.centered_dev_bps" in line for line in failing(result)["leakage"])


def test_normalizing_by_the_whole_range_max_leaks_through_the_range(
    synthetic_slice: pa.Table, tmp_path: Path
) -> None:
    result = audit(
        synthetic_slice, tmp_path, "close / max(close) OVER () AS close_to_max", [feature("close_to_max", 0)]
    )
    (line,) = failing(result)["leakage"]
    assert line.startswith("snap_features.close_to_max: changes when the future after")


@pytest.mark.parametrize(
    "select",
    [
        "(close - min(low) OVER ()) / close AS above_range_low",
        "percent_rank() OVER (ORDER BY close) AS close_rank",
        "close / avg(close) OVER () - 1 AS dev_from_range_mean",
    ],
)
def test_other_whole_range_statistics_leak(synthetic_slice: pa.Table, tmp_path: Path, select: str) -> None:
    name = select.rsplit(" AS ", 1)[1]
    result = audit(synthetic_slice, tmp_path, select, [feature(name, 0)])
    assert any(line.startswith(f"snap_features.{name}: changes when") for line in failing(result)["leakage"])


def test_a_short_declared_lookback_gets_the_lookback_to_declare(
    synthetic_slice: pa.Table, tmp_path: Path
) -> None:
    select = "stddev_samp(r1) OVER (ORDER BY pos ROWS BETWEEN 47 PRECEDING AND CURRENT ROW) AS vol_48_bps"
    result = audit(synthetic_slice, tmp_path, select, [feature("vol_48_bps", 10)])
    found = failing(result)
    assert set(found) == {"lookback sufficiency"}, found  # no leak, range independent, healthy
    assert found["lookback sufficiency"] == [
        "snap_features.vol_48_bps: declared 10, needs 48 earlier bars: declare lookback=48"
    ]


def test_an_ema_depends_on_all_history(synthetic_slice: pa.Table, tmp_path: Path) -> None:
    weights = f"power(1 - {EMA}, -pos)"
    window = "OVER (ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    select = f"(close / (sum(close * {weights}) {window} / sum({weights}) {window}) - 1) * 1e4 AS ema_dev_bps"
    result = audit(synthetic_slice, tmp_path, select, [feature("ema_dev_bps", 100)])
    found = failing(result)
    assert "leakage" not in found  # it reads only the past
    (line,) = found["lookback sufficiency"]
    assert line.startswith("snap_features.ema_dev_bps: declared 100; depends on all history")
    assert any("ema_dev_bps" in x for x in found["range independence"])


def test_a_column_missing_in_the_declaration_is_named(synthetic_slice: pa.Table, tmp_path: Path) -> None:
    select = "r1 AS r1_bps, rng / close * 1e4 AS range_bps"
    result = audit(synthetic_slice, tmp_path, select, [feature("r1_bps", 1)])
    declaration = result.audits[0]
    assert declaration.name == "declaration vs SQL" and not declaration.passed
    assert [(f.table, f.column) for f in declaration.findings] == [("snap_features", "range_bps")]
    assert "not declared" in declaration.findings[0].problem
    assert all(a.skipped for a in result.audits[1:])  # the rest cannot run on a mismatched table
    assert not result.passed


def test_health_names_out_of_range_constant_and_duplicate_columns(
    synthetic_slice: pa.Table, tmp_path: Path
) -> None:
    select = "r1 AS ret_a, r1 * 2 AS ret_b, 1.0::DOUBLE AS flat, r1 AS ret_c"
    columns = [feature("ret_a", 1), feature("ret_b", 1), feature("flat", 0), feature("ret_c", 1, -1.0, 1.0)]
    result = audit(synthetic_slice, tmp_path, select, columns)
    lines = failing(result)["feature health"]
    assert any(x.startswith("snap_features.flat: constant") for x in lines)
    assert any(x.startswith("snap_features.ret_c:") and "outside the declared range" in x for x in lines)
    assert any(x.startswith("snap_features.ret_b: |corr| with snap_features.ret_a") for x in lines)


@pytest.mark.parametrize("version", sorted(CONTRACTS))
def test_the_built_in_versions_pass(synthetic_slice: pa.Table, version: str) -> None:
    result = audit_contract(synthetic_slice, CONTRACTS[version], cuts=3, seed=7)
    assert result.passed, failing(result)
    assert [a.name for a in result.audits] == [
        "declaration vs SQL",
        "leakage",
        "lookback sufficiency",
        "range independence",
        "feature health",
    ]
