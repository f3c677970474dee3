"""Telemetry: the rank tests across buckets, the per-bucket distributions and the cycle funnel."""

from __future__ import annotations

import numpy as np
import pytest

from train.evaluation.telemetry import RankTestConfig, by_bucket, cycle_funnel, rank_test

SESSIONS = {0: "ASIA", 1: "EU", 2: "US", 3: "OVERLAP"}


def test_rank_test_separates_equal_and_shifted_buckets() -> None:
    rng = np.random.default_rng(0)
    ids = np.repeat([1, 2, 3], 400)
    same = rank_test(rng.normal(0.5, 0.05, 1200), ids, SESSIONS, RankTestConfig())
    assert (
        not same["significant"]
        and same["effect"] == "negligible"
        and same["buckets"] == ["EU", "US", "OVERLAP"]
    )
    shifted = rank_test(rng.normal(0.5, 0.05, 1200) + 0.1 * (ids == 2), ids, SESSIONS, RankTestConfig())
    assert shifted["significant"] and shifted["effect"] == "large" and shifted["p_value"] < 1e-10
    flat = rank_test(np.full(1200, 0.5), ids, SESSIONS, RankTestConfig())
    assert flat["h"] == 0.0 and not flat["significant"]


def test_small_buckets_are_left_out() -> None:
    ids = np.array([1] * 50 + [2] * 10)
    test = rank_test(np.linspace(0, 1, 60), ids, SESSIONS, RankTestConfig())
    assert test["buckets"] == ["EU"] and test["h"] is None and "fewer than 2 buckets" in test["note"]


def test_by_bucket_lists_every_bucket_and_values_on_request() -> None:
    p = np.array([0.4, 0.5, 0.6, 0.7])
    ids = np.array([1, 1, 2, 2])
    out = by_bucket(p, ids, SESSIONS, per_cycle=True)
    assert list(out) == ["ASIA", "EU", "US", "OVERLAP"]
    assert out["ASIA"]["n"] == 0 and out["ASIA"]["mean"] is None and out["ASIA"]["values"] == []
    assert out["EU"]["mean"] == pytest.approx(0.45) and out["US"]["values"] == [0.6, 0.7]
    assert "values" not in by_bucket(p, ids, SESSIONS)["EU"]


def test_funnel_counts_stages_and_checks_the_invariant() -> None:
    status = np.array(["HARD_BLOCK", "SOFT_BLOCK", "ELIGIBLE", "ELIGIBLE"])
    reason = np.array(["HARD_SESSION_BLOCK", "SOFT_VOL_EXTREME", "ELIGIBLE", "ELIGIBLE"])
    eligible = status == "ELIGIBLE"
    funnel = cycle_funnel(status, reason, eligible, np.array([False, False, True, False]))
    assert (funnel["cycles"], funnel["hard_eligible"], funnel["eligible"], funnel["predicted"]) == (
        4,
        3,
        2,
        1,
    )
    assert funnel["invariant_holds"] and funnel["by_reason"]["ELIGIBLE"] == 2
    broken = cycle_funnel(status, reason, eligible, np.array([True, True, True, False]))
    assert not broken["invariant_holds"]


@pytest.mark.parametrize("bad", [{"alpha": 0.0}, {"alpha": 1.0}, {"min_bucket_cycles": 1}])
def test_rank_test_config_refuses_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError, match="RankTestConfig"):
        RankTestConfig(**bad)
