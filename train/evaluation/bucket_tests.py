"""Does p_long differ across context buckets (session, vol regime, trend regime)? Tested on daily means.

Why not a rank test on the bars: consecutive M5 bars are strongly autocorrelated and a bucket such as a
session comes in contiguous blocks of the day, so n bars hold far fewer independent observations than n.
Kruskal-Wallis on raw bars called an AR(1) p_long (phi 0.99) that ignores the session "significant at 1%"
in 19 of 20 runs (docs/replay.md). The unit here is the trading day (UTC calendar day).

The test (a block permutation by trading day):

1. Each (day, bucket) cell with at least `min_cell_cycles` predicted cycles gives one number: the mean
   p_long of the bucket's cycles that day. A day contributes one mean per bucket it holds.
2. A bucket is tested when it has cells on at least `min_days` days; a day informs the test when it holds
   two or more tested buckets (a day with one bucket says nothing about a difference *within* the day).
3. The statistic is a between-bucket sum of squares of the day-centred means: r[d, b] = m[d, b] - mean of
   day d's cells; T = sum over buckets of n_b * (mean over days of r[d, b])^2.
4. Null: within a day the bucket labels are exchangeable. The labels of each day's cells are permuted
   within that day (whole daily means move, never single bars), `n_permutations` times, and the p-value is
   (1 + #{T_perm >= T}) / (1 + n_permutations).

Why within days: the level of p_long drifts from day to day (an AR(1) with phi 0.99 over 288 bars, or a
model whose output trends over weeks), and regimes persist for days, so comparing daily means across days
would mistake that drift for a bucket effect. Centring each day and permuting within it compares buckets
only where they are seen side by side, the paired design of a Friedman test; it also handles days that
lack some buckets (regimes), which the Friedman test in scipy cannot, and scipy's `permutation_test` has
no permutation within strata, hence the few lines of numpy here. Days are close to independent of each
other (for phi 0.99 the correlation one day apart is 0.99^288 = 0.06), which is what the test assumes.

The effect size, for each pair of tested buckets (a, b): the mean over the days holding both of the paired
difference m[d, a] - m[d, b] of daily means, with a 95% interval from the block bootstrap by trading day
(`train.fitting.bootstrap.mean_interval`, one row per day). An interval that excludes 0 says the same
thing as the test, pair by pair; the test is the one decision per grouping (no multiple pairs to pick
from).

Usage::

    result = bucket_test(p_long, session_ids, days, SESSION_NAMES, BucketTestConfig())
    result["p_value"], result["significant"], result["pairs"][0]["difference"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np

from train.fitting.bootstrap import mean_interval

TEST_NAME = "within-day permutation of daily bucket means"


@dataclass(frozen=True)
class BucketTestConfig:
    """Settings of the bucket test: cell and bucket minimums, resamples, level and seed."""

    alpha: float = 0.05
    min_cell_cycles: int = 3  # a (day, bucket) cell needs this many predicted cycles to give a daily mean
    min_days: int = 10  # a bucket needs cells on this many days; the test needs this many informative days
    n_permutations: int = 2000
    n_resamples: int = 1000  # block bootstrap of the pairwise differences
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"BucketTestConfig.alpha must be in (0, 1), got {self.alpha}")
        if self.min_cell_cycles < 1 or self.min_days < 2:
            raise ValueError("BucketTestConfig: min_cell_cycles must be >= 1 and min_days >= 2")
        if self.n_permutations < 1 or self.n_resamples < 1:
            raise ValueError("BucketTestConfig: n_permutations and n_resamples must be >= 1")


def daily_means(
    p: np.ndarray, ids: np.ndarray, days: np.ndarray, bucket_ids: list[int], min_cell_cycles: int
) -> tuple[np.ndarray, np.ndarray]:
    """(means [n_days, n_buckets] with NaN where a cell has too few cycles, cycles per cell)."""
    day = np.unique(np.asarray(days), return_inverse=True)[1]
    n_days = int(day.max()) + 1 if day.size else 0
    means = np.full((n_days, len(bucket_ids)), np.nan)
    counts = np.zeros((n_days, len(bucket_ids)), dtype=np.int64)
    for column, bucket in enumerate(bucket_ids):
        rows = ids == bucket
        counts[:, column] = np.bincount(day[rows], minlength=n_days)
        sums = np.bincount(day[rows], weights=p[rows], minlength=n_days)
        full = counts[:, column] >= min_cell_cycles
        means[full, column] = sums[full] / counts[full, column]
    return means, counts


def _statistic(residuals: np.ndarray, labels: np.ndarray, n_buckets: int) -> np.ndarray:
    """T for each row of `labels` ([R, n_cells]): sum over buckets of n_b * (mean residual of b)^2."""
    onehot = labels[..., None] == np.arange(n_buckets)
    n_b = onehot.sum(axis=-2)
    sums = (onehot * residuals[:, None]).sum(axis=-2)
    return (sums**2 / np.maximum(n_b, 1)).sum(axis=-1)


def _within_day_permutation_p(means: np.ndarray, n_permutations: int, seed: int) -> tuple[float, float]:
    """(T, p-value) of the day-centred means, permuting the bucket labels within each day."""
    day, bucket = np.nonzero(np.isfinite(means))  # the cells, in day order
    values = means[day, bucket]
    per_day = np.bincount(day, minlength=len(means))
    centre = np.bincount(day, weights=values, minlength=len(means)) / np.maximum(per_day, 1)
    residuals = values - centre[day]
    observed = float(_statistic(residuals, bucket[None, :], means.shape[1])[0])
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, n_permutations, 500):  # chunks keep the [R, cells, buckets] array small
        size = min(500, n_permutations - start)
        order = np.argsort(day[None, :] + rng.random((size, len(day))), axis=1)  # shuffles within days
        exceed += int((_statistic(residuals, bucket[order], means.shape[1]) >= observed - 1e-12).sum())
    return observed, (1 + exceed) / (1 + n_permutations)


def bucket_test(
    p: np.ndarray,
    ids: np.ndarray,
    days: np.ndarray,
    names: Mapping[int, str],
    config: BucketTestConfig,
) -> dict[str, Any]:
    """The bucket test of one grouping (see the module docstring): p-value, pairwise effects, the n's."""
    p, ids, days = np.asarray(p, dtype=np.float64), np.asarray(ids), np.asarray(days)
    if not len(p) == len(ids) == len(days):
        raise ValueError(f"{len(p)} p_long values, {len(ids)} bucket ids and {len(days)} day labels")
    means, counts = daily_means(p, ids, days, sorted(names), config.min_cell_cycles)
    present = np.isfinite(means)
    tested = [k for k in range(len(names)) if present[:, k].sum() >= config.min_days]
    bucket_names = [names[b] for b in sorted(names)]
    means = means[:, tested]
    informative = np.isfinite(means).sum(axis=1) >= 2
    result: dict[str, Any] = {
        "test": TEST_NAME,
        "unit": "trading day (UTC)",
        "buckets": [bucket_names[k] for k in tested],
        "cycles": int(counts[:, tested].sum()) if tested else 0,
        "days": int(len(means)),
        "informative_days": int(informative.sum()),
        "days_per_bucket": {bucket_names[k]: int(present[:, k].sum()) for k in tested},
        "statistic": None,
        "p_value": None,
        "significant": False,
        "pairs": [],
        "config": asdict(config),
    }
    if len(tested) < 2 or informative.sum() < config.min_days:
        result["note"] = (
            f"not tested: {len(tested)} buckets with daily means on >= {config.min_days} days and "
            f"{int(informative.sum())} days holding two or more of them (>= {config.min_days} needed)"
        )
        return result
    statistic, p_value = _within_day_permutation_p(means[informative], config.n_permutations, config.seed)
    result.update(statistic=statistic, p_value=p_value, significant=bool(p_value < config.alpha))
    result["pairs"] = [
        _pair(means, result["buckets"], a, b, config) for a, b in combinations(range(len(tested)), 2)
    ]
    return result


def _pair(means: np.ndarray, names: list[str], a: int, b: int, config: BucketTestConfig) -> dict[str, Any]:
    both = np.isfinite(means[:, a]) & np.isfinite(means[:, b])
    diff = means[both, a] - means[both, b]
    pair: dict[str, Any] = {"a": names[a], "b": names[b], "days": int(both.sum())}
    if both.sum() < 2:
        return {**pair, "difference": float(diff.mean()) if diff.size else None, "interval": None}
    interval = mean_interval(diff, np.arange(len(diff)), n_resamples=config.n_resamples, seed=config.seed)
    return {
        **pair,
        "difference": interval.estimate,
        "interval": [interval.low, interval.high],
        "excludes_zero": interval.excludes_zero(),
    }


def largest_pair(result: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pair with the largest |difference| (for a one-line summary), or None when nothing was tested."""
    pairs = [pair for pair in result["pairs"] if pair["difference"] is not None]
    return max(pairs, key=lambda pair: abs(pair["difference"])) if pairs else None


def describe(name: str, result: Mapping[str, Any]) -> str:
    """One line: the grouping, its p-value over n days and the largest paired difference with its interval."""
    if result["p_value"] is None:
        return f"{name}: {result.get('note', 'not tested')}"
    text = f"{name} (p={result['p_value']:.2g} over {result['informative_days']} days"
    pair = largest_pair(result)
    if pair is not None and pair["interval"] is not None:
        low, high = pair["interval"]
        text += f"; {pair['a']} - {pair['b']} {pair['difference']:+.4f} [{low:+.4f}, {high:+.4f}]"
    return text + ")"
