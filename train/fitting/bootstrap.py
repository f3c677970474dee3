"""Block bootstrap by trading day: the one place intervals on M5 bars come from.

Neighbouring M5 rows are not independent (their labels overlap, volatility clusters), so resampling rows
gives intervals that are too narrow. Whole UTC days are resampled with replacement instead, and the
statistic is recomputed on the concatenation (docs/evaluate.md). Paired comparisons (model A - model
B on the same rows) pass a statistic of the per-row difference, so both sides see the same days.

Usage::

    days = trading_days(ts)
    mean_interval(log_loss_per_row, days)                       # fast: per-day sums
    block_bootstrap(lambda idx: roc_auc(y[idx], p[idx]), days, n_resamples=200)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A statistic on all rows and its percentile interval from resampled days."""

    estimate: float
    low: float
    high: float
    n: int
    n_days: int
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def excludes_zero(self) -> bool:
        return bool(self.low > 0 or self.high < 0)


def trading_days(ts: np.ndarray) -> np.ndarray:
    """An integer label per row: its UTC calendar day (0, 1, ... in time order)."""
    days = np.asarray(ts).astype("datetime64[D]")
    return np.unique(days, return_inverse=True)[1].astype(np.int64)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def _check(days: np.ndarray, n: int, n_resamples: int, confidence: float) -> np.ndarray:
    days = np.asarray(days)
    if len(days) != n:
        raise ValueError(f"{len(days)} day labels for {n} rows")
    if n_resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(f"need n_resamples >= 1 and 0 < confidence < 1, got {n_resamples}, {confidence}")
    return np.unique(days, return_inverse=True)[1]


def mean_interval(
    values: np.ndarray,
    days: np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """The mean of per-row ``values`` (a loss, a paired loss difference, a trade's bps) with its interval.

    Vectorized: each resample's mean is (sum of its days' sums) / (sum of its days' counts).
    """
    values = np.asarray(values, dtype=np.float64)
    day = _check(days, len(values), n_resamples, confidence)
    n_days = int(day.max()) + 1 if len(day) else 0
    sums = np.bincount(day, weights=values, minlength=n_days)
    counts = np.bincount(day, minlength=n_days)
    return day_mean_interval(sums, counts, n_resamples=n_resamples, confidence=confidence, seed=seed)


def day_mean_interval(
    sums: np.ndarray,
    counts: np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """The row mean from per-day sums and row counts (one entry per day), with its interval.

    For a statistic known only per day (e.g. a baseline's log loss on each day's rows: sum = mean x n), the
    same resampling as :func:`mean_interval`, which calls it.
    """
    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if sums.shape != counts.shape or sums.ndim != 1:
        raise ValueError(f"per-day sums {sums.shape} and counts {counts.shape} must be two equal 1-d arrays")
    if n_resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(f"need n_resamples >= 1 and 0 < confidence < 1, got {n_resamples}, {confidence}")
    n_days, n = len(sums), int(counts.sum())
    if n_days == 0 or n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, 0, confidence)
    picks = np.random.default_rng(seed).integers(0, n_days, size=(n_resamples, n_days))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = _percentiles(means, confidence)
    return Interval(float(sums.sum() / n), low, high, n, n_days, confidence)


def block_bootstrap(
    statistic: Callable[[np.ndarray], float],
    days: np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Any statistic of the rows: ``statistic(row_indices)`` on all rows, then on each resample of days.

    Resamples where the statistic is undefined (NaN, e.g. an AUC on one class) are left out of the quantiles.
    """
    day = _check(days, len(days), n_resamples, confidence)
    n = len(day)
    estimate = float(statistic(np.arange(n)))
    n_days = int(day.max()) + 1 if n else 0
    if n_days == 0:
        return Interval(estimate, float("nan"), float("nan"), 0, 0, confidence)
    order = np.argsort(day, kind="stable")
    rows_of_day = np.split(order, np.cumsum(np.bincount(day, minlength=n_days))[:-1])
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples)
    for b in range(n_resamples):
        pick = rng.integers(0, n_days, size=n_days)
        values[b] = statistic(np.concatenate([rows_of_day[k] for k in pick]))
    low, high = _percentiles(values, confidence)
    return Interval(estimate, low, high, n, n_days, confidence)
