"""The block bootstrap by trading day against known cases (seeded, fast)."""

from __future__ import annotations

import numpy as np
import pytest

from train.fitting.bootstrap import block_bootstrap, day_mean_interval, mean_interval, trading_days

BARS_PER_DAY = 100


def _days(n_days: int) -> np.ndarray:
    k = np.arange(n_days * BARS_PER_DAY)
    day = np.datetime64("2025-02-03", "D") + k // BARS_PER_DAY
    ts = day.astype("datetime64[m]") + (k % BARS_PER_DAY) * np.timedelta64(5, "m")
    return trading_days(ts)


def test_trading_days_label_utc_calendar_days() -> None:
    stamps = ["2025-03-03T23:55", "2025-03-04T00:00", "2025-03-04T12:00", "2025-03-06T01:00"]
    ts = np.array(stamps, "datetime64[m]")
    assert trading_days(ts).tolist() == [0, 1, 1, 2]


def test_interval_covers_a_known_mean_about_95_percent_of_the_time() -> None:
    """iid normal rows, true mean 0.3: the 95% interval should cover it in about 95% of repetitions."""
    rng = np.random.default_rng(0)
    days = _days(40)
    hits = 0
    for k in range(200):
        interval = mean_interval(0.3 + rng.standard_normal(len(days)), days, n_resamples=500, seed=k)
        hits += interval.low <= 0.3 <= interval.high
    assert 0.88 <= hits / 200 <= 0.99  # percentile intervals on 40 days run a little narrow


def test_days_as_blocks_keep_coverage_on_autocorrelated_rows() -> None:
    """AR(1) rows (phi 0.95) within each day: resampling days still covers the mean about 95% of the time,
    while an interval that treats the rows as independent (days of one row) is far too narrow."""
    rng = np.random.default_rng(1)
    days = _days(40)
    by_day, by_row = 0, 0
    for k in range(150):
        x = np.empty(len(days))
        x[0] = 0.0
        eps = rng.standard_normal(len(days))
        for i in range(1, len(days)):
            x[i] = eps[i] if days[i] != days[i - 1] else 0.95 * x[i - 1] + eps[i] * np.sqrt(1 - 0.95**2)
        day_interval = mean_interval(x, days, n_resamples=400, seed=k)
        row_interval = mean_interval(x, np.arange(len(x)), n_resamples=400, seed=k)
        by_day += day_interval.low <= 0.0 <= day_interval.high
        by_row += row_interval.low <= 0.0 <= row_interval.high
    assert by_day / 150 >= 0.88
    assert by_row / 150 <= 0.75


def test_generic_statistic_agrees_with_the_vectorized_mean() -> None:
    rng = np.random.default_rng(2)
    days = _days(30)
    x = rng.standard_normal(len(days))
    fast = mean_interval(x, days, n_resamples=2000, seed=3)
    slow = block_bootstrap(lambda idx: float(x[idx].mean()), days, n_resamples=2000, seed=4)
    assert fast.estimate == pytest.approx(slow.estimate)
    assert fast.low == pytest.approx(slow.low, abs=0.01) and fast.high == pytest.approx(slow.high, abs=0.01)
    assert (fast.n, fast.n_days) == (len(x), 30)


def test_per_day_means_give_the_rows_interval() -> None:
    """A statistic known only per day (a mean and a count per day) gets the per-row interval."""
    rng = np.random.default_rng(8)
    days = _days(25)
    x = rng.standard_normal(len(days)) + rng.standard_normal(25)[days]
    counts = np.bincount(days)
    day_means = np.bincount(days, weights=x) / counts
    from_days = day_mean_interval(day_means * counts, counts, seed=4)
    from_rows = mean_interval(x, days, seed=4)
    assert from_days.estimate == pytest.approx(x.mean())
    assert (from_days.low, from_days.high) == pytest.approx((from_rows.low, from_rows.high))
    assert (from_days.n, from_days.n_days) == (len(x), 25)
    with pytest.raises(ValueError, match="equal"):
        day_mean_interval(np.zeros(3), np.zeros(2))


def test_paired_difference_sees_the_same_days() -> None:
    """Two models whose losses share a large day effect: the paired interval of their difference is narrow
    and excludes 0, while the effect would swamp two separate intervals."""
    rng = np.random.default_rng(5)
    days = _days(40)
    day_effect = rng.standard_normal(40)[days] * 2.0
    a = day_effect + rng.standard_normal(len(days)) * 0.1
    b = a + 0.05
    paired = mean_interval(b - a, days, seed=0)
    assert paired.excludes_zero() and paired.low > 0.04
    separate = mean_interval(b, days, seed=0)
    assert separate.high - separate.low > 10 * (paired.high - paired.low)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="day labels"):
        mean_interval(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="confidence"):
        mean_interval(np.zeros(3), np.zeros(3), confidence=1.5)
