"""Drift alarms on synthetic candles: thresholds calibrated on the reference's own weeks keep quiet without a
change, and the relevant inputs alarm within one live window of a planted change (the spread x 3, and
separately the volatility doubled). The monitor journals the alarm, flags decisions and shows in status."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from featurestore.app.synthetic import SyntheticConfig, generate_candles
from tests.conftest import slice_from_frame
from tests.train.serving.drift_world import (
    alarmed,
    features,
    monitored,
    spread_times,
    volatility_times,
    windows,
)
from train.serving.drift import DriftUncalibrated, fit_reference, psi
from train.serving.drift_monitor import DriftMonitor
from train.serving.journal import Decision, Journal
from train.serving.live_status import journal_status

REFERENCE = (datetime(2025, 2, 3), datetime(2025, 5, 1))
CHANGE = datetime(2025, 5, 12)
SPREAD_INPUTS = {"spread_bps", "spread_bucket", "spread_atr", "spread_max_12_bps", "spread_rel_48"}


def _is_volatility(name: str) -> bool:
    return name.startswith(("atr", "rv_", "ret_", "ticks_per_bps", "range_", "h1_ret", "h1_atr", "vol_"))


@pytest.fixture(scope="module")
def world():
    candles = slice_from_frame(
        generate_candles(SyntheticConfig(date(2025, 1, 1), date(2025, 6, 30), seed=21))
    )
    base = features(candles, REFERENCE[0])
    reference_rows = base.filter(pl.col("ts") < REFERENCE[1])
    reference = fit_reference(reference_rows, monitored(base))
    after = {
        "none": base,
        "spread": features(spread_times(candles, CHANGE, 3.0), REFERENCE[0]),
        "volatility": features(volatility_times(candles, CHANGE, 2.0), REFERENCE[0]),
    }
    return reference, {name: rows.filter(pl.col("ts") >= CHANGE) for name, rows in after.items()}


def test_calibration_states_its_false_alarm_rate(world) -> None:
    reference, _ = world
    assert reference.weeks == 12 and len(reference.columns) > 100
    assert 0 < reference.false_alarm_rate["per_input"] < 0.05
    assert all(t >= 0.01 for t in reference.thresholds.values())


def test_without_a_change_inputs_alarm_about_as_often_as_stated(world) -> None:
    reference, rows = world
    checks = windows(reference, rows["none"])
    rate = np.mean([[c["alarm"] for c in window] for window in checks])
    assert len(checks) >= 5
    assert rate <= 2 * reference.false_alarm_rate["per_input"], rate
    assert not alarmed(checks[0]) & SPREAD_INPUTS  # the control of the planted spread change


def test_spread_times_three_alarms_the_spread_inputs_within_one_window(world) -> None:
    reference, rows = world
    first = windows(reference, rows["spread"])[0]  # the first window wholly after the change
    spread = alarmed(first) & SPREAD_INPUTS
    assert len(spread) >= 2, sorted(alarmed(first))
    strongest = max(first, key=lambda c: c["psi"] / c["threshold"])
    assert strongest["input"] in SPREAD_INPUTS


def test_doubled_volatility_alarms_the_volatility_inputs_within_one_window(world) -> None:
    reference, rows = world
    first = windows(reference, rows["volatility"])[0]
    volatility = {name for name in alarmed(first) if _is_volatility(name)}
    assert {"atr_bps", "atr_bucket"} <= volatility and len(volatility) >= 4, sorted(alarmed(first))
    assert not alarmed(first) & SPREAD_INPUTS


def test_psi_of_identical_shares_is_zero_and_grows_with_the_shift() -> None:
    shares = np.full(10, 0.1)
    assert psi(shares, shares) == 0
    shifted = np.array([0.05] * 5 + [0.15] * 5)
    assert 0 < psi(shares, shifted) < psi(shares, np.array([0.0] * 5 + [0.2] * 5))


def test_a_reference_of_a_few_weeks_is_refused() -> None:
    ts = pl.datetime_range(datetime(2025, 3, 3), datetime(2025, 3, 20), "5m", eager=True)
    rows = pl.DataFrame({"ts": ts, "x": np.random.default_rng(1).normal(size=ts.len())})
    with pytest.raises(DriftUncalibrated, match="2 usable weeks"):
        fit_reference(rows, ["x"])


def _decision(row: dict, i: int) -> Decision:
    return Decision(
        symbol="XAUUSD", ts=f"2025-05-12T00:00:{i:06d}Z", bundle_id="b@1", reason="ELIGIBLE", predicted=True,
        p_long=None, p_early_move=None, quality=None, p_xgb=None, contract_version="v2",
        feature_contract_hash="f", full_contract_hash="h", snapshot_id="s", source="file:x",
        bar_close="", decided_at="", lag_s=0.0, late=False, degraded=False,
        inputs={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()},
    )  # fmt: skip


def test_the_monitor_journals_alarms_flags_decisions_and_shows_them(world, tmp_path: Path) -> None:
    reference, rows = world
    journal = Journal.open(tmp_path, "XAUUSD", "b@1")
    monitor = DriftMonitor(reference, journal, [])
    quiet = [_decision(r, i) for i, r in enumerate(rows["none"].head(reference.window).to_dicts())]
    monitor.observe(quiet)
    assert not set(monitor.alarms) & SPREAD_INPUTS
    changed = rows["spread"].head(reference.window).to_dicts()
    monitor.observe([_decision(r, i + reference.window) for i, r in enumerate(changed)])
    assert set(monitor.alarms) & SPREAD_INPUTS
    assert set(monitor.flags()) >= {f"drift:{name}" for name in set(monitor.alarms) & SPREAD_INPUTS}
    journal.close()
    shown = journal_status(tmp_path)["drift_alarms"]
    assert {a["input"] for a in shown} == set(monitor.alarms)
    assert all(a["psi"] > a["threshold"] for a in shown)
