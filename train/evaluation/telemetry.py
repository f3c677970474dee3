"""Replay telemetry: the eligibility funnel of the cycles, the p_long distribution overall and by context
bucket (p_long_by_session / _vol_regime / _trend_regime, the seed's design), and rank tests across buckets.

Everything is aggregated per cycle (one cycle = one bar a live system evaluates), never per trade. The rank
tests (Kruskal-Wallis across buckets, with epsilon-squared as effect size) say whether p_long *differs* by
session or regime, which can also come from the market features themselves, so they describe rather than
decide: the context-usage verdict is `train.evaluation.context_evidence`'s.

Usage::

    funnel = cycle_funnel(status, reason, eligible, predicted)
    by_bucket(p_long, session_ids, SESSION_NAMES)
    rank_test(p_long, session_ids, SESSION_NAMES, RankTestConfig())
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import kruskal

from schemas.parameters_v1 import SESSION_NAMES, TREND_REGIME_NAMES, VOL_REGIME_NAMES

# grouping name -> (id column, bucket names by id)
GROUPINGS: dict[str, tuple[str, dict[int, str]]] = {
    "session": ("session_id", SESSION_NAMES),
    "vol_regime": ("vol_regime_id", VOL_REGIME_NAMES),
    "trend_regime": ("trend_regime_id", TREND_REGIME_NAMES),
}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# epsilon-squared of Kruskal-Wallis read with the usual eta-squared bands (0.01 / 0.06 / 0.14)
EFFECT_BANDS = ((0.14, "large"), (0.06, "medium"), (0.01, "small"), (0.0, "negligible"))


@dataclass(frozen=True)
class RankTestConfig:
    """Settings of the rank tests across buckets."""

    alpha: float = 0.01  # significance level
    min_bucket_cycles: int = 30  # buckets with fewer cycles are left out of the test

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"RankTestConfig.alpha must be in (0, 1), got {self.alpha}")
        if self.min_bucket_cycles < 2:
            raise ValueError("RankTestConfig: min_bucket_cycles must be >= 2")


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


def rank_test(
    p: np.ndarray, ids: np.ndarray, names: Mapping[int, str], config: RankTestConfig
) -> dict[str, Any]:
    """Kruskal-Wallis across the buckets holding at least `min_bucket_cycles` cycles, with epsilon-squared."""
    buckets = [(names[b], p[ids == b]) for b in sorted(names) if (ids == b).sum() >= config.min_bucket_cycles]
    result: dict[str, Any] = {"test": "kruskal-wallis", "buckets": [name for name, _ in buckets]}
    n = sum(len(v) for _, v in buckets)
    if len(buckets) < 2:
        note = f"fewer than 2 buckets with >= {config.min_bucket_cycles} cycles"
        empty = {"h": None, "p_value": None, "epsilon_squared": None, "effect": None, "significant": False}
        return {**result, "n": n, **empty, "note": note}
    if np.ptp(np.concatenate([v for _, v in buckets])) == 0:
        h, p_value = 0.0, 1.0  # every value equal: no difference by construction (scipy would divide by zero)
    else:
        h, p_value = (float(x) for x in kruskal(*(v for _, v in buckets)))
    epsilon_sq = h / (n - 1)
    effect = next(label for bound, label in EFFECT_BANDS if epsilon_sq >= bound)
    return {
        **result,
        "n": n,
        "h": h,
        "p_value": p_value,
        "epsilon_squared": epsilon_sq,
        "effect": effect,
        "significant": bool(p_value < config.alpha),
    }


def cycle_funnel(status: np.ndarray, reason: np.ndarray, eligible: np.ndarray, predicted: np.ndarray) -> dict:
    """Counts per stage (cycles >= hard-eligible >= eligible >= predicted) and per eligibility reason."""
    counts = {
        "cycles": int(len(status)),
        "hard_eligible": int((status != "HARD_BLOCK").sum()),
        "eligible": int(eligible.sum()),
        "predicted": int(predicted.sum()),
    }
    values = list(counts.values())
    reasons, n = np.unique(reason, return_counts=True)
    return {
        **counts,
        "invariant_holds": all(a >= b for a, b in zip(values, values[1:], strict=False)),
        "eligible_rate": counts["eligible"] / counts["cycles"] if counts["cycles"] else 0.0,
        "by_reason": {str(r): int(c) for r, c in zip(reasons, n, strict=True)},
    }
