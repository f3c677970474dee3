"""Telemetry: the per-bucket distributions and the cycle funnel (the bucket tests: test_bucket_tests.py)."""

from __future__ import annotations

import numpy as np
import pytest

from train.evaluation.telemetry import by_bucket, cycle_funnel

SESSIONS = {0: "ASIA", 1: "EU", 2: "US", 3: "OVERLAP"}


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
