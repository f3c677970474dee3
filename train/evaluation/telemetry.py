"""Replay telemetry: the eligibility funnel of the cycles, the p_long distribution overall and by context
bucket (p_long_by_session / _vol_regime / _trend_regime, the seed's design), and the tests across buckets.

Everything is aggregated per cycle (one cycle = one bar a live system evaluates), never per trade. The
bucket tests (`train.evaluation.bucket_tests`: daily means compared within days, with paired differences
and their intervals) say whether p_long *differs* by session or regime, which can also come from the
market features themselves, so they describe rather than decide: the context-usage verdict is
`train.evaluation.context_evidence`'s.

Usage::

    funnel = cycle_funnel(status, reason, eligible, predicted)
    by_bucket(p_long, session_ids, SESSION_NAMES)
    bucket_tests(p_long, {"session": session_ids, ...}, trading_days(ts), BucketTestConfig())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from featurestore.api import funnel_stages, is_monotone
from schemas.contract import CONTRACT
from train.evaluation.bucket_tests import BucketTestConfig, bucket_test

SESSION_NAMES = CONTRACT.value_name_map("session_id")
VOL_REGIME_NAMES = CONTRACT.value_name_map("vol_regime_id")
TREND_REGIME_NAMES = CONTRACT.value_name_map("trend_regime_id")
# grouping name -> (id column, bucket names by id)
GROUPINGS: dict[str, tuple[str, dict[int, str]]] = {
    "session": ("session_id", SESSION_NAMES),
    "vol_regime": ("vol_regime_id", VOL_REGIME_NAMES),
    "trend_regime": ("trend_regime_id", TREND_REGIME_NAMES),
}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def distribution(values: np.ndarray) -> dict[str, float | int]:
    """n, mean, std, min, quantiles and max (None for an empty bucket)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {
            "n": 0,
            "mean": None,
            "std": None,
            "min": None,
            **{_q(q): None for q in QUANTILES},
            "max": None,
        }
    quantiles = np.quantile(v, QUANTILES)
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "min": float(v.min()),
        **{_q(q): float(x) for q, x in zip(QUANTILES, quantiles, strict=True)},
        "max": float(v.max()),
    }


def _q(q: float) -> str:
    return f"p{round(q * 100):02d}"


def by_bucket(
    p: np.ndarray, ids: np.ndarray, names: Mapping[int, str], *, per_cycle: bool = False
) -> dict[str, dict[str, Any]]:
    """The distribution of p per bucket (every bucket of the contract, empty ones included)."""
    out: dict[str, dict[str, Any]] = {}
    for bucket_id, name in sorted(names.items()):
        values = p[ids == bucket_id]
        out[name] = distribution(values)
        if per_cycle:
            out[name]["values"] = [float(x) for x in values]
    return out


def bucket_tests(
    p: np.ndarray, groups: Mapping[str, np.ndarray], days: np.ndarray, config: BucketTestConfig
) -> dict[str, dict[str, Any]]:
    """The bucket test of every grouping (`groups`: GROUPINGS name -> bucket id per cycle; `days`: the
    trading day of each cycle, `train.fitting.bootstrap.trading_days`)."""
    return {name: bucket_test(p, groups[name], days, GROUPINGS[name][1], config) for name in GROUPINGS}


def cycle_funnel(status: np.ndarray, reason: np.ndarray, eligible: np.ndarray, predicted: np.ndarray) -> dict:
    """Counts per stage (cycles >= hard-eligible >= eligible >= predicted) and per eligibility reason."""
    counts = {
        "cycles": int(len(status)),
        "hard_eligible": int((status != "HARD_BLOCK").sum()),
        "eligible": int(eligible.sum()),
        "predicted": int(predicted.sum()),
    }
    stages = funnel_stages(counts["cycles"], list(counts.items()))
    reasons, n = np.unique(reason, return_counts=True)
    return {
        **counts,
        "invariant_holds": is_monotone(stages),
        "eligible_rate": counts["eligible"] / counts["cycles"] if counts["cycles"] else 0.0,
        "by_reason": {str(r): int(c) for r, c in zip(reasons, n, strict=True)},
    }
