"""Intervals of the evaluation's figures: they bracket the full-sample value and respond to the data."""

from __future__ import annotations

import numpy as np

from train.evaluation.metric_intervals import reliability_intervals, trade_intervals
from train.evaluation.trades import TradeRows, one_position
from train.fitting.intervals import binary_intervals, paired_log_loss_interval
from train.fitting.metrics import binary_metrics


def _ts(n: int) -> np.ndarray:
    return np.datetime64("2025-03-03T07:00", "m") + np.arange(n) * np.timedelta64(5, "m")


def test_binary_intervals_bracket_the_metrics_of_all_rows() -> None:
    rng = np.random.default_rng(0)
    n = 6000
    p = rng.uniform(0.2, 0.8, n)
    y = (rng.random(n) < p).astype(np.float64)  # calibrated, informative
    got = binary_intervals(y, p, _ts(n))
    full = binary_metrics(y, p)
    for metric in ("log_loss", "brier", "auc"):
        assert got[metric]["low"] <= full[metric] <= got[metric]["high"]
        assert abs(got[metric]["estimate"] - full[metric]) < 1e-9
    assert got["auc"]["low"] > 0.5  # informative predictions: AUC above chance with its interval


def test_paired_interval_detects_a_worse_model_and_not_an_equal_one() -> None:
    rng = np.random.default_rng(1)
    n = 6000
    p = rng.uniform(0.2, 0.8, n)
    y = (rng.random(n) < p).astype(np.float64)
    worse = paired_log_loss_interval(y, np.full(n, 0.5), p, _ts(n))
    assert worse["low"] > 0
    same = paired_log_loss_interval(y, p, p, _ts(n))
    assert same["low"] == same["high"] == 0.0


def test_trade_intervals_cover_the_mean_of_the_trades_taken() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    ts = _ts(n)
    rows = TradeRows.from_arrays(ts, ts + np.timedelta64(60, "m"), rng.random(n), rng.normal(1.0, 10.0, n))
    taken = one_position(rows, rows.p > 0.5)
    got = trade_intervals(rows, rows.p > 0.5, taken)
    mean = rows.realized_bps[taken].mean()
    assert got["mean_bps"]["n"] == len(taken) and got["mean_bps"]["low"] <= mean <= got["mean_bps"]["high"]
    assert trade_intervals(rows, np.zeros(n, bool), taken[:0]) == {}


def test_reliability_bins_are_deciles_and_detect_a_miscalibrated_model() -> None:
    rng = np.random.default_rng(3)
    n = 8000
    p = rng.uniform(0.45, 0.60, n)  # a narrow band, as a model's p_long is
    y = (rng.random(n) < p).astype(np.float64)
    calibrated = reliability_intervals(y, p, _ts(n))
    assert len(calibrated) == 10 and sum(b["n"] for b in calibrated) == n
    assert max(b["n"] for b in calibrated) - min(b["n"] for b in calibrated) <= 1
    covered = sum(b["low"] <= b["mean_p"] <= b["high"] for b in calibrated)
    assert covered >= 8
    shifted = reliability_intervals(y, np.clip(p + 0.15, 0, 1), _ts(n))  # says 15 points too high
    assert sum(b["high"] < b["mean_p"] for b in shifted) >= 9
