"""Contract v2 beside v1: the registry, the pinned hashes, realized_bps against an independent numpy
computation, minutes_since_prev, and the calibration rerun against the contract (slow, real data)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from featurestore.compute.pipeline import run_pipeline
from schemas.contract import contract_hashes, full_contract_hash
from schemas.versions import CONTRACT_V1, CONTRACT_V2, CONTRACTS, NEWEST, UnknownContractVersion, contract_for
from tests.conftest import SYNTH_END, SYNTH_START

P = CONTRACT_V2.parameters


def test_registry_holds_both_versions_side_by_side() -> None:
    assert sorted(CONTRACTS) == ["v1", "v2"] and NEWEST == "v2"
    assert contract_for("v1") is CONTRACT_V1 and contract_for("v2") is CONTRACT_V2
    assert (
        full_contract_hash(CONTRACT_V1) == "f9375a1b798b1c05a591ce815adcd8a15f9695412625ea24a63e98f2b987e77f"
    )
    with pytest.raises(UnknownContractVersion, match="unknown contract version 'v9'; this code knows v1, v2"):
        contract_for("v9")


def test_v2_hashes_are_pinned() -> None:
    hashes = contract_hashes(CONTRACT_V2)
    assert hashes["feature_contract_hash"] == "93ab1d31534f2dc7"
    assert hashes["full_contract_hash"] == "4f6c2147b0bc0e2dea3a09f70010d71cfdbcfe021a9dead022da9177b04c955b"


@pytest.fixture(scope="module")
def v2_tables(synthetic_slice: pa.Table) -> dict[str, pa.Table]:
    return run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=CONTRACT_V2)


def _realized_numpy(slice_: pa.Table, atr_bps: np.ndarray, first: int, available: np.ndarray) -> np.ndarray:
    """realized_bps from docs/contract_v2.md, vectorized over rows: no SQL, no loop over the horizon."""
    o, h, lo, c, s = (
        slice_.column(k).to_numpy().astype(float) for k in ("open", "high", "low", "close", "spread")
    )
    horizon, n = P["label_horizon_bars"], len(atr_bps)
    rows = first + np.arange(n)
    ok = available & (rows + horizon < len(c))
    idx = rows[ok]
    entry = (o[idx + 1] + s[idx]) * (1 + P["commission_bps"] / 1e4)
    mult = P["barrier_atr_mult"] * atr_bps[ok] / 1e4
    upper, lower = entry * (1 + mult), entry * (1 - mult)
    path = idx[:, None] + np.arange(1, horizon + 1)[None, :]
    up, down = h[path] >= upper[:, None], lo[path] <= lower[:, None]
    never = horizon + 1
    k_up = np.where(up.any(axis=1), up.argmax(axis=1), never)
    k_down = np.where(down.any(axis=1), down.argmax(axis=1), never)
    exit_ = np.where(
        (k_down < never) & (k_down <= k_up), lower, np.where(k_up < never, upper, c[idx + horizon])
    )
    out = np.full(n, np.nan)
    out[ok] = (exit_ / entry - 1) * 1e4
    return out


def test_realized_bps_matches_an_independent_numpy_computation(
    synthetic_slice: pa.Table, v2_tables: dict[str, pa.Table]
) -> None:
    labels = v2_tables["labels"]
    ts = synthetic_slice.column("ts").to_numpy()
    first = int(np.searchsorted(ts, np.datetime64(SYNTH_START)))
    available = labels.column("label_available").to_numpy(zero_copy_only=False)
    got = labels.column("realized_bps").to_numpy(zero_copy_only=False).astype(float)
    expected = _realized_numpy(
        synthetic_slice, v2_tables["context"].column("atr_bps").to_numpy(), first, available
    )
    assert available.sum() > 1000
    assert np.isnan(got[~available]).all()
    np.testing.assert_allclose(got[available], expected[available], rtol=1e-9, atol=1e-9)
    # the sign agrees with y_direction where a barrier resolved the label
    direction = labels.column("y_direction").to_numpy(zero_copy_only=False)[available]
    resolved = np.abs(got[available]) >= P["barrier_atr_mult"] * v2_tables["context"].column(
        "atr_bps"
    ).to_numpy()[available] * (1 - 1e-9)
    assert ((got[available][resolved] > 0) == (direction[resolved] == 1)).all() and resolved.sum() > 100


def test_minutes_since_prev_is_the_gap_to_the_previous_bar(
    synthetic_slice: pa.Table, v2_tables: dict[str, pa.Table]
) -> None:
    ts = synthetic_slice.column("ts").to_numpy()
    first = int(np.searchsorted(ts, np.datetime64(SYNTH_START)))
    gaps = np.diff(ts.astype("datetime64[m]").astype(np.int64))[
        first - 1 : first - 1 + v2_tables["eligibility"].num_rows
    ]
    got = v2_tables["eligibility"].column("minutes_since_prev").to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(got, gaps)
    assert set(np.unique(gaps)) > {5}


def test_v1_tables_are_unchanged_by_v2(synthetic_slice: pa.Table) -> None:
    v1 = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=CONTRACT_V1)
    assert "realized_bps" not in v1["labels"].column_names
    assert "minutes_since_prev" not in v1["eligibility"].column_names


SHARED_M5 = Path(
    os.environ.get("FS_DEMO_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
) / ("xauusd_m5_2025_mt5.tsv")


@pytest.mark.slow
def test_calibration_on_the_training_months_reproduces_the_v2_thresholds(tmp_path: Path) -> None:
    if not SHARED_M5.is_file():
        pytest.skip(f"real data not found at {SHARED_M5} (../shared/data); the v2 thresholds come from it")
    from featurestore.compute.calibrate import calibrate
    from featurestore.ingest.ingest_file import IngestOptions, ingest_file
    from featurestore.store.handle import Store

    store = Store.at(tmp_path / "store")
    ingest_file(store, SHARED_M5, IngestOptions("XAUUSD", fmt="mt5", source_tz="EET"))
    start, end = (date.fromisoformat(d) for d in P["calibration_window"])
    result = calibrate(store, "XAUUSD", start, end, CONTRACT_V2)
    for key, value in result.thresholds.items():
        assert P[key] == value, key
    for column, shares in result.shares.items():
        assert min(shares) >= P["min_class_share"].get(column, 0.05), (column, shares)
