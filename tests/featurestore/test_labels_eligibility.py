"""Labels against a plain-Python triple-barrier reference, and eligibility reasons on constructed cases."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from featurestore.compute.pipeline import run_pipeline
from schemas.contract import CONTRACT
from tests.conftest import SYNTH_END, SYNTH_START

P = CONTRACT.parameters


def reference_label(i: int, o, h, lo, c, spread, gaps, atr_bps, ts) -> dict:
    """The contract's label rules written as a loop over one row's horizon."""
    horizon, m = P["label_horizon_bars"], P["early_move_bars"]
    if i + horizon >= len(c):
        return {"label_reason": "LABEL_UNAVAILABLE_END_OF_DATA"}
    if max(gaps[i + 1 : i + horizon + 1]) > P["label_max_gap_minutes"]:
        return {"label_reason": "LABEL_UNAVAILABLE_GAP"}
    entry = (o[i + 1] + spread[i]) * (1 + P["commission_bps"] / 1e4)
    upper = entry * (1 + P["barrier_atr_mult"] * atr_bps / 1e4)
    lower = entry * (1 - P["barrier_atr_mult"] * atr_bps / 1e4)
    k_resolve, direction, ambiguous = horizon, None, False
    for k in range(1, horizon + 1):
        up, down = h[i + k] >= upper, lo[i + k] <= lower
        if up or down:
            k_resolve, direction, ambiguous = k, int(up and not down), up and down
            break
    if direction is None:
        direction = int(c[i + horizon] > entry)
    early = (max(h[i + 1 : i + m + 1]) - entry) / entry * 1e4 >= P["early_move_atr_mult"] * atr_bps
    mfe = max(h[i + 1 : i + k_resolve + 1]) - entry
    mae = entry - min(lo[i + 1 : i + k_resolve + 1])
    quality = float(np.clip((mfe - mae) / entry * 1e4 / (2 * atr_bps), -1, 1))
    t1 = ts[i + max(k_resolve, m)] + np.timedelta64(5, "m")
    return {
        "label_reason": "LABEL_AVAILABLE",
        "y_direction": direction,
        "y_early_move": int(early),
        "y_quality_score": quality,
        "ambiguous_bar": ambiguous,
        "t1": t1,
    }


def test_labels_match_reference(synthetic_slice: pa.Table) -> None:
    tables = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END)
    cols = {k: synthetic_slice.column(k).to_numpy() for k in ("open", "high", "low", "close", "spread", "ts")}
    ts = cols["ts"]
    gaps = np.r_[0, np.diff(ts.astype("datetime64[m]").astype(int))]
    first = int(np.searchsorted(ts, np.datetime64(SYNTH_START)))
    labels = tables["labels"].to_pylist()
    atr = tables["context"].column("atr_bps").to_numpy()
    checked = {"LABEL_AVAILABLE": 0, "LABEL_UNAVAILABLE_GAP": 0}
    for offset in range(0, len(labels), 3):
        i = first + offset
        want = reference_label(
            i, cols["open"], cols["high"], cols["low"], cols["close"], cols["spread"], gaps, atr[offset], ts
        )
        got = labels[offset]
        assert got["label_reason"] == want["label_reason"], f"row {ts[i]}"
        checked[want["label_reason"]] = checked.get(want["label_reason"], 0) + 1
        if want["label_reason"] != "LABEL_AVAILABLE":
            assert got["y_direction"] is None and got["t1"] is None
            continue
        for key in ("y_direction", "y_early_move", "ambiguous_bar"):
            assert got[key] == want[key], f"{key} at {ts[i]}"
        assert got["y_quality_score"] == pytest.approx(want["y_quality_score"], rel=1e-9, abs=1e-12)
        assert np.datetime64(got["t1"]) == want["t1"]
    assert checked["LABEL_AVAILABLE"] > 1000 and checked["LABEL_UNAVAILABLE_GAP"] > 0


def test_labels_past_the_data_are_unavailable(synthetic_slice: pa.Table) -> None:
    tables = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END + timedelta(days=5))
    reasons = tables["labels"].column("label_reason").to_pylist()
    assert reasons[-P["label_horizon_bars"] :] == ["LABEL_UNAVAILABLE_END_OF_DATA"] * P["label_horizon_bars"]


def _by_ts(table: pa.Table, column: str) -> dict[datetime, object]:
    return dict(zip(table.column("ts").to_pylist(), table.column(column).to_pylist(), strict=True))


def _reasons(tables: dict[str, pa.Table]) -> dict[datetime, object]:
    return _by_ts(tables["eligibility"], "reason")


def test_eligibility_reasons(synthetic_slice: pa.Table) -> None:
    eu_bar = datetime(2025, 2, 4, 9, 0)  # a Tuesday, EU session
    blocked = ((eu_bar, eu_bar + timedelta(minutes=15)),)
    tables = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, blocked_intervals=blocked)
    reasons = _reasons(tables)
    assert [reasons[eu_bar + timedelta(minutes=5 * k)] for k in range(3)] == ["HARD_KILLSWITCH"] * 3
    assert reasons[eu_bar + timedelta(minutes=15)] != "HARD_KILLSWITCH"
    sessions = _by_ts(tables["context"], "session_id")
    assert all(reasons[t] == "HARD_SESSION_BLOCK" for t, s in sessions.items() if s == 0)
    vol = _by_ts(tables["context"], "vol_regime_id")
    soft = [t for t, r in reasons.items() if r == "SOFT_VOL_EXTREME"]
    assert soft and all(vol[t] == 3 for t in soft)
    eligible = pc.equal(tables["eligibility"].column("reason"), "ELIGIBLE")
    assert pc.all(pc.equal(tables["eligibility"].column("eligible"), eligible)).as_py()


def test_spread_cap_and_gap_cooldown(synthetic_slice: pa.Table) -> None:
    """Widen one EU bar's spread past the cap and cut a 40-minute hole into an EU morning."""
    ts = synthetic_slice.column("ts").to_pylist()
    wide_bar = datetime(2025, 2, 5, 10, 0)
    spreads = synthetic_slice.column("spread").to_pylist()
    closes = synthetic_slice.column("close").to_pylist()
    i = ts.index(wide_bar)
    spreads[i] = closes[i] * (P["spread_cap_bps"] + 0.5) / 1e4
    hole = [datetime(2025, 2, 6, 9, 0) + timedelta(minutes=5 * k) for k in range(8)]
    table = synthetic_slice.set_column(7, "spread", pa.array(spreads))
    keep = pa.array([t not in hole for t in ts])
    tables = run_pipeline(table.filter(keep), SYNTH_START, SYNTH_END)
    reasons = _reasons(tables)
    assert reasons[wide_bar] == "HARD_SPREAD_CAP"
    after = datetime(2025, 2, 6, 9, 40)
    cooldown = [reasons[after + timedelta(minutes=5 * k)] for k in range(4)]
    assert cooldown[:3] == ["HARD_GAP_COOLDOWN"] * 3 and cooldown[3] != "HARD_GAP_COOLDOWN"


def test_warmup_rows_are_marked_and_null(synthetic_slice: pa.Table) -> None:
    start = synthetic_slice.column("ts")[0].as_py()
    tables = run_pipeline(synthetic_slice, start, SYNTH_END)
    reasons = tables["eligibility"].column("reason").to_pylist()
    warm = CONTRACT.warmup_bars
    assert reasons[:warm] == ["HARD_WARMUP"] * warm and reasons[warm] != "HARD_WARMUP"
    snap = tables["snap_features"]
    assert (
        snap.column("ret_2_bps")[warm - 1].as_py() is None
        and snap.column("ret_2_bps")[warm].as_py() is not None
    )
    assert tables["labels"].column("label_reason")[0].as_py() == "LABEL_UNAVAILABLE_WARMUP"
