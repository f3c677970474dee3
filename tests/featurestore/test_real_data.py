"""Acceptance on the shared real 2025 XAUUSD M5 data (slow; skipped where ../shared/data is absent)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.pipeline import run_pipeline
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.candles import load_candle_slice
from featurestore.store.handle import Store
from featurestore.store.versions import stored_table
from schemas.contract import CONTRACT, Contract
from schemas.versions import CONTRACTS
from tests.conftest import real_m5_or_skip
from tests.featurestore.test_point_in_time import (
    assert_identical_up_to,
    assert_same_rows,
    cut_after,
    random_cuts,
    scramble_after,
)

pytestmark = pytest.mark.slow
RANGE = (date(2025, 2, 1), date(2025, 10, 27))
TABLES = ("context", "seq_features", "snap_features", "eligibility", "labels")


def _ingested(root: Path) -> Store:
    store = Store.at(root)
    ingest_file(store, real_m5_or_skip(), IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    return store


def _read(store: Store, contract: Contract) -> dict[str, pa.Table]:
    with store.connect(read_only=True) as con:
        return {
            t: con.sql(
                f"SELECT * FROM {stored_table(contract, contract.table(t))} ORDER BY ts"
            ).to_arrow_table()
            for t in TABLES
        }


@pytest.fixture(scope="module", params=sorted(CONTRACTS))
def contract(request: pytest.FixtureRequest) -> Contract:
    """Every acceptance check runs on each contract version."""
    return CONTRACTS[request.param]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, contract: Contract) -> dict[str, pa.Table]:
    store = _ingested(tmp_path_factory.mktemp("real"))
    materialize(store, MaterializeConfig("XAUUSD", *RANGE), contract=contract)
    return _read(store, contract)


@pytest.fixture(scope="module")
def real_slice(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    store = _ingested(tmp_path_factory.mktemp("slice"))
    with store.connect(read_only=True) as con:
        return load_candle_slice(con, "XAUUSD", "M5", datetime(2025, 2, 1), datetime(2025, 10, 28), CONTRACT)


def test_tables_have_the_contract_columns(full_run: dict[str, pa.Table]) -> None:
    assert len(full_run["context"].column_names) == 2 + 7
    assert len(full_run["seq_features"].column_names) == 2 + 13
    assert len(full_run["snap_features"].column_names) == 2 + 85
    rows = {t.num_rows for t in full_run.values()}
    assert len(rows) == 1 and rows.pop() > 50_000


def _feature_matrix(full_run: dict[str, pa.Table], mask: np.ndarray) -> tuple[list[str], np.ndarray]:
    names, columns = [], []
    for table in ("context", "seq_features", "snap_features"):
        for col in CONTRACT.feature_columns(table):
            if col.role == "feature":
                names.append(col.name)
                columns.append(
                    full_run[table].column(col.name).to_numpy(zero_copy_only=False).astype(float)[mask]
                )
    return names, np.column_stack(columns)


def test_no_null_nan_or_inf_outside_warmup(full_run: dict[str, pa.Table], contract: Contract) -> None:
    not_warm = pc.not_equal(full_run["eligibility"].column("reason"), "HARD_WARMUP")
    for table in ("context", "seq_features", "snap_features"):
        for col in contract.feature_columns(table):
            values = full_run[table].column(col.name).filter(not_warm)
            assert values.null_count == 0, f"{table}.{col.name} has nulls outside warmup"
            assert np.isfinite(values.to_numpy(zero_copy_only=False).astype(float)).all(), (
                f"{col.name} not finite"
            )
    available = full_run["labels"].column("label_available")
    for col in contract.table("labels").by_role("label"):
        col = col.name
        assert full_run["labels"].column(col).filter(available).null_count == 0, f"labels.{col} null"
    assert pc.sum(available.cast(pa.int64())).as_py() > 40_000


def test_feature_health(full_run: dict[str, pa.Table], contract: Contract) -> None:
    """No constant feature, no near-duplicate pair, every value inside its contract range."""
    mask = full_run["eligibility"].column("reason").to_numpy(zero_copy_only=False) != "HARD_WARMUP"
    names, matrix = _feature_matrix(full_run, mask)
    stds = matrix.std(axis=0)
    assert not [n for n, s in zip(names, stds, strict=False) if s == 0], "constant features"
    corr = np.corrcoef(matrix, rowvar=False)
    upper = np.triu(np.abs(corr), k=1)
    pairs = [(names[i], names[j], upper[i, j]) for i, j in zip(*np.where(upper >= 0.995), strict=False)]
    assert not pairs, f"near-duplicate features: {pairs}"
    for table in ("context", "seq_features", "snap_features"):
        for col in contract.feature_columns(table):
            values = full_run[table].column(col.name).drop_null().to_numpy(zero_copy_only=False)
            lo, hi = col.range if col.range else (min(col.allowed), max(col.allowed))
            assert lo <= values.min() and values.max() <= hi, f"{col.name} outside [{lo}, {hi}]"
            if col.allowed:
                assert set(np.unique(values)) <= set(col.allowed)


def _shares(values: np.ndarray, classes: tuple[int, ...]) -> dict[int, float]:
    return {c: float((values == c).mean()) for c in classes}


def test_categorical_shares_hold(full_run: dict[str, pa.Table]) -> None:
    """docs/contract_v1.md: bucket and regime classes are populated as the contract's thresholds intend.

    Checked on hard-eligible rows (the rows a live system evaluates; SOFT_VOL_EXTREME rows are among them,
    so all four vol regimes can appear) and, for the fixed-threshold buckets, on the eligible rows too.
    """
    reason = full_run["eligibility"].column("reason").to_numpy(zero_copy_only=False)
    hard_ok = np.isin(reason, ["ELIGIBLE", "SOFT_VOL_EXTREME"])
    eligible = reason == "ELIGIBLE"
    ctx = {
        c: full_run["context"].column(c).to_numpy(zero_copy_only=False)
        for c in full_run["context"].column_names
    }
    for rows in (hard_ok, eligible):
        assert min(_shares(ctx["atr_bucket"][rows], (0, 1, 2, 3)).values()) >= 0.05
        assert min(_shares(ctx["spread_bucket"][rows], (0, 1, 2)).values()) >= 0.05
        assert min(_shares(ctx["trend_regime_id"][rows], (0, 1, 2)).values()) >= 0.15
    assert min(_shares(ctx["vol_regime_id"][hard_ok], (0, 1, 2, 3)).values()) > 0.01


def test_sessions_follow_the_eet_clock_changes(full_run: dict[str, pa.Table]) -> None:
    """Server 09:00 is 07:00 UTC (EU) before 2025-03-30 and 06:00 UTC (ASIA) after; the reverse in October."""
    ctx = full_run["context"]
    sessions = dict(zip(ctx.column("ts").to_pylist(), ctx.column("session_id").to_pylist(), strict=True))
    expected = {
        datetime(2025, 3, 28, 6, 55): 0,
        datetime(2025, 3, 28, 7, 0): 1,  # server 08:55 / 09:00, UTC+2
        datetime(2025, 3, 31, 6, 0): 0,
        datetime(2025, 3, 31, 7, 0): 1,  # server 09:00 / 10:00, UTC+3
        datetime(2025, 10, 24, 6, 55): 0,
        datetime(2025, 10, 24, 7, 0): 1,  # server 09:55 / 10:00, UTC+3
        datetime(2025, 10, 27, 6, 55): 0,
        datetime(2025, 10, 27, 7, 0): 1,  # server 08:55 / 09:00, UTC+2
        datetime(2025, 10, 27, 12, 0): 3,
        datetime(2025, 10, 27, 16, 0): 2,
    }
    assert {t: sessions[t] for t in expected} == expected


def test_point_in_time_on_real_data(real_slice: pa.Table, contract: Contract) -> None:
    start, end = datetime(2025, 2, 1), datetime(2025, 10, 28)
    base = run_pipeline(real_slice, start, end, contract=contract)
    for i, cut in enumerate(random_cuts(real_slice, start, end, 5, seed=2025)):
        cut_run = run_pipeline(cut_after(real_slice, cut), start, end, contract=contract)
        assert_identical_up_to(base, cut_run, cut)
        scrambled = run_pipeline(scramble_after(real_slice, cut, seed=i), start, end, contract=contract)
        assert_identical_up_to(base, scrambled, cut)


def test_range_independence_on_real_data(
    full_run: dict[str, pa.Table], contract: Contract, tmp_path: Path
) -> None:
    store = _ingested(tmp_path)
    materialize(store, MaterializeConfig("XAUUSD", date(2025, 6, 1), date(2025, 6, 30)), contract=contract)
    june = _read(store, contract)
    assert june["context"].num_rows > 5_000
    assert_same_rows(full_run, june, contract=contract)


def test_validate_passes_on_the_real_year_and_is_idempotent(contract: Contract, tmp_path: Path) -> None:
    from featurestore.compute.validate import ValidateConfig, validate
    from featurestore.store.snapshots import list_snapshots, open_snapshot

    store = _ingested(tmp_path)
    materialize(store, MaterializeConfig("XAUUSD", *RANGE), contract=contract)
    config = ValidateConfig("XAUUSD", *RANGE)
    first = validate(store, config)
    assert first.created and first.report.ok and first.docs_path is not None and first.docs_path.is_file()
    assert first.report.health["class_coverage"] == "checked"
    second = validate(store, config)
    assert (second.snapshot_id, second.created) == (first.snapshot_id, False)
    assert [m["id"] for m in list_snapshots(store)] == [first.snapshot_id]
    manifest = open_snapshot(store, first.snapshot_id, contract=contract).manifest
    assert manifest["sql_version"] == contract.version
    assert manifest["row_counts"]["snap_features"] == manifest["eligibility_report"]["bars"] > 50_000
    _render_real_docs(store, first.snapshot_id, tmp_path)


def _render_real_docs(store: Store, snapshot_id: str, tmp_path: Path) -> None:
    """The data docs of the real snapshot, rendered in headless Chromium: every table's suite and result."""
    from tests.validation.test_data_docs import ARTIFACTS, CHROMIUM, SITE_INDEX, _render

    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium (the .ci/run script installs it)")
    ARTIFACTS.mkdir(exist_ok=True)
    index = _render(
        store.validation_dir / "gx" / SITE_INDEX, ARTIFACTS / "real_data_docs_index.png", tmp_path / "p"
    )
    for table in ("candles", *TABLES):
        rows = [r for r in index.rows if snapshot_id in r.split() and table in r.split()]
        assert len(rows) == 1 and "Success" in rows[0].split(), (table, index.rows)
        assert any(r.split() == [table] for r in index.rows), f"suite {table} not listed"
