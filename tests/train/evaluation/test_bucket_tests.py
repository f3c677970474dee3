"""The bucket test on daily means: its false-positive rate on autocorrelated bars, its power, its effects."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.stats import kruskal

from schemas.contract import CONTRACT
from train.evaluation.bucket_tests import BucketTestConfig, bucket_test, describe

SESSION_BY_UTC_HOUR = CONTRACT.parameters["session_by_utc_hour"]
SESSION_NAMES = CONTRACT.value_name_map("session_id")

DAYS = 60
BARS_PER_DAY = 288  # M5, 24 hours


def m5_sessions(days: int = DAYS) -> tuple[np.ndarray, np.ndarray]:
    """(session id, day) of every M5 bar of `days` days outside ASIA (the blocked session)."""
    hour = np.tile(np.repeat(np.arange(24), 12), days)
    session = np.asarray(SESSION_BY_UTC_HOUR)[hour]
    day = np.repeat(np.arange(days), BARS_PER_DAY)
    keep = session != 0
    return session[keep], day[keep]


def ar1(n: int, seed: int, phi: float = 0.99, sigma: float = 0.01) -> np.ndarray:
    """An AR(1) around 0.5 started in its stationary distribution."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, sigma, n)
    shocks[0] = rng.normal(0.0, sigma / np.sqrt(1 - phi**2))
    return 0.5 + lfilter([1.0], [1.0, -phi], shocks)


def test_ar1_independent_of_session_is_rarely_significant() -> None:
    """Acceptance (d): 20 AR(1) series (phi 0.99), 60 days of M5, no session effect: at most 3 rejections at
    5%; Kruskal-Wallis on the same raw bars rejects nearly all of them."""
    session, day = m5_sessions()
    config = BucketTestConfig()
    began = time.perf_counter()
    rejected, raw_rejected = 0, 0
    for seed in range(20):
        p = ar1(len(session), seed)
        result = bucket_test(p, session, day, SESSION_NAMES, config)
        assert result["informative_days"] == DAYS and result["buckets"] == ["EU", "US", "OVERLAP"]
        rejected += result["p_value"] < 0.05
        raw_rejected += kruskal(*(p[session == s] for s in (1, 2, 3))).pvalue < 0.05
    assert rejected <= 3
    assert raw_rejected >= 15  # the failure this test replaces: raw bars look significant
    assert time.perf_counter() - began < 5.0


def test_a_true_session_difference_is_detected_with_an_interval_around_it() -> None:
    session, day = m5_sessions()
    p = ar1(len(session), seed=99) + 0.03 * (session == 3)  # OVERLAP sits 0.03 higher
    result = bucket_test(p, session, day, SESSION_NAMES, BucketTestConfig())
    assert result["significant"] and result["p_value"] < 0.01
    pairs = {(pair["a"], pair["b"]): pair for pair in result["pairs"]}
    for other in ("EU", "US"):
        pair = pairs[(other, "OVERLAP")]
        low, high = pair["interval"]
        assert pair["days"] == DAYS and low < -0.03 < high and high < 0 and pair["excludes_zero"]
    assert "OVERLAP" in describe("session", result) and "over 60 days" in describe("session", result)


def test_a_bucket_seen_one_per_day_is_not_tested_however_the_days_differ() -> None:
    """A regime that holds for whole days: its days differ in level, but no day shows two buckets side by
    side, so the test declines instead of reading day-to-day drift as a bucket effect."""
    rng = np.random.default_rng(3)
    day = np.repeat(np.arange(40), 100)
    regime = np.repeat(rng.integers(0, 3, 40), 100)
    p = 0.5 + 0.05 * regime + rng.normal(0, 0.01, len(day))
    result = bucket_test(p, regime, day, {0: "LOW", 1: "MID", 2: "HIGH"}, BucketTestConfig())
    assert result["p_value"] is None and not result["significant"] and result["informative_days"] == 0
    assert "not tested" in result["note"] and "not tested" in describe("vol_regime", result)


def test_a_drifting_level_with_persistent_regimes_is_not_a_bucket_effect() -> None:
    """p_long trends over the weeks while the regime moves from HIGH to LOW: across days the buckets' means
    differ a lot, within the days that hold both they do not. The test compares within days only."""
    rng = np.random.default_rng(11)
    day = np.repeat(np.arange(DAYS), 200)
    half = np.tile(np.arange(200) < 100, DAYS)
    regime = np.where(day < 25, 1, np.where(day >= 35, 0, np.where(half, 1, 0)))  # both on days 25-34
    p = 0.4 + 0.004 * day + rng.normal(0, 0.01, len(day))
    result = bucket_test(p, regime, day, {0: "LOW", 1: "HIGH"}, BucketTestConfig())
    assert result["informative_days"] == 10 and not result["significant"], result
    naive = p[regime == 1].mean() - p[regime == 0].mean()
    assert naive < -0.1  # the raw bucket means are far apart: the drift, not the regime
    low, high = result["pairs"][0]["interval"]
    assert low < 0 < high and result["pairs"][0]["days"] == 10


def test_small_cells_and_rare_buckets_are_left_out() -> None:
    session, day = m5_sessions(days=20)
    p = ar1(len(session), seed=1)
    config = BucketTestConfig(min_cell_cycles=61)  # OVERLAP has 48 bars a day, EU 60, US 72
    result = bucket_test(p, session, day, SESSION_NAMES, config)
    assert result["buckets"] == ["US"] and result["p_value"] is None and "not tested" in result["note"]
    sparse = bucket_test(p, session, day, SESSION_NAMES, BucketTestConfig(min_cell_cycles=50))
    assert sparse["buckets"] == ["EU", "US"] and len(sparse["pairs"]) == 1


def test_flat_p_long_is_not_significant() -> None:
    session, day = m5_sessions(days=15)
    result = bucket_test(np.full(len(session), 0.5), session, day, SESSION_NAMES, BucketTestConfig())
    assert result["p_value"] == 1.0 and not result["significant"]
    assert all(pair["difference"] == 0.0 for pair in result["pairs"])


@pytest.mark.parametrize(
    "bad", [{"alpha": 0.0}, {"min_cell_cycles": 0}, {"min_days": 1}, {"n_permutations": 0}]
)
def test_config_refuses_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError, match="BucketTestConfig"):
        BucketTestConfig(**bad)


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="day labels"):
        bucket_test(np.zeros(3), np.zeros(3), np.zeros(2), SESSION_NAMES, BucketTestConfig())
