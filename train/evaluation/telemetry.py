"""Replay telemetry: the eligibility funnel of the cycles, the p_long distribution overall and by context
bucket (p_long_by_session / _vol_regime / _trend_regime, the seed's design), and the context-usage verdict.

Everything is aggregated per cycle (one cycle = one bar a live system evaluates), never per trade.

The verdict rests on the ablation, because it is causal: the same cycles are replayed with ctx_cat/ctx_cont
taken from other cycles (a random permutation), so only the context inputs change. If p_long moves by at
least `min_mean_abs_delta` on average AND by at least `min_relative_delta` of its own spread across cycles,
the model uses context; otherwise it ignores it. The bucket tests (`train.evaluation.bucket_tests`: daily
means compared within days, with paired differences and their intervals) are reported beside it: they say
whether p_long *differs* by session or regime, which can also come from the market features themselves, so
they describe rather than decide.
A second ablation also shuffles the regime ids (every context input at once) for comparison with v10, whose
only context inputs are those ids.

Usage::

    funnel = cycle_funnel(status, eligible, predicted)
    usage = context_usage(p_long, p_shuffled, p_all_shuffled, groups, VerdictConfig(), days=trading_days(ts))
    usage["verdict"], usage["reason"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from featurestore.api import funnel_stages, is_monotone
from schemas.parameters_v1 import SESSION_NAMES, TREND_REGIME_NAMES, VOL_REGIME_NAMES
from train.evaluation.bucket_tests import BucketTestConfig, bucket_test
from train.evaluation.bucket_tests import describe as describe_bucket_test

# grouping name -> (id column, bucket names by id)
GROUPINGS: dict[str, tuple[str, dict[int, str]]] = {
    "session": ("session_id", SESSION_NAMES),
    "vol_regime": ("vol_regime_id", VOL_REGIME_NAMES),
    "trend_regime": ("trend_regime_id", TREND_REGIME_NAMES),
}
USES, IGNORES, UNDETERMINED = "uses context", "ignores context", "undetermined"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class VerdictConfig:
    """When a context ablation counts as "uses context", and the statistics settings around it."""

    min_mean_abs_delta: float = 0.002  # p_long moves at least this much on average when ctx is shuffled ...
    min_relative_delta: float = 0.1  # ... and at least this share of p_long's std across cycles
    min_cycles: int = 100  # fewer predicted cycles than this: the verdict is "undetermined"
    seed: int = 1337  # the ablation's permutation
    buckets: BucketTestConfig = field(default_factory=BucketTestConfig)  # p_long across buckets

    def __post_init__(self) -> None:
        if self.min_mean_abs_delta < 0 or self.min_relative_delta < 0:
            raise ValueError("VerdictConfig: the ablation thresholds must be >= 0")
        if self.min_cycles < 2:
            raise ValueError("VerdictConfig: min_cycles must be >= 2")


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


def ablation_stats(p: np.ndarray, p_ablated: np.ndarray) -> dict[str, float | int]:
    """How far p_long moved per cycle when the context was shuffled."""
    delta = np.abs(np.asarray(p_ablated, dtype=np.float64) - np.asarray(p, dtype=np.float64))
    if delta.size == 0:
        return {"n": 0, "mean_abs_delta": None, "p95_abs_delta": None, "max_abs_delta": None}
    return {
        "n": int(delta.size),
        "mean_abs_delta": float(delta.mean()),
        "p95_abs_delta": float(np.quantile(delta, 0.95)),
        "max_abs_delta": float(delta.max()),
    }


def context_usage(
    p: np.ndarray,
    p_ctx_shuffled: np.ndarray,
    p_all_shuffled: np.ndarray,
    groups: Mapping[str, np.ndarray],
    config: VerdictConfig,
    *,
    days: np.ndarray,
    has_ctx_inputs: bool = True,
) -> dict[str, Any]:
    """Bucket tests per grouping, both ablations, and the verdict with the numbers behind it.

    `groups` maps each GROUPINGS name to the bucket id of every predicted cycle, `days` gives its trading
    day (`train.evaluation.bootstrap.trading_days`: the bucket tests work on daily means). A model without
    ctx_cat/ctx_cont inputs (v10) ignores context by construction; its reason quotes the all-context
    ablation instead (its regime ids are its only context inputs).
    """
    tests = {
        name: bucket_test(p, groups[name], days, GROUPINGS[name][1], config.buckets) for name in GROUPINGS
    }
    ctx = ablation_stats(p, p_ctx_shuffled)
    everything = ablation_stats(p, p_all_shuffled)
    spread = float(np.std(p, ddof=1)) if p.size > 1 else 0.0
    verdict, reason = _verdict(p.size, ctx if has_ctx_inputs else None, everything, spread, tests, config)
    return {
        "verdict": verdict,
        "reason": reason,
        "p_long_std": spread,
        "ablation_ctx_shuffled": ctx,
        "ablation_all_context_shuffled": everything,
        "bucket_tests": tests,
        "config": asdict(config),
    }


def _verdict(
    n: int,
    ctx: Mapping[str, Any] | None,
    everything: Mapping[str, Any],
    spread: float,
    tests: Mapping[str, Mapping[str, Any]],
    config: VerdictConfig,
) -> tuple[str, str]:
    if n < config.min_cycles:
        return UNDETERMINED, f"only {n} predicted cycles (at least {config.min_cycles} are needed)"
    differs = [describe_bucket_test(name, t) for name, t in tests.items() if t["significant"]]
    buckets = (
        "p_long differs across " + ", ".join(differs)
        if differs
        else "no difference of p_long across buckets detected (daily means, within days)"
    )
    if ctx is None:
        return IGNORES, (
            "the model has no ctx_cat/ctx_cont inputs (v10); shuffling its regime ids moves p_long by "
            f"{everything['mean_abs_delta']:.4f} on average; {buckets}"
        )
    mean = float(ctx["mean_abs_delta"])
    needed = max(config.min_mean_abs_delta, config.min_relative_delta * spread)
    moved = (
        f"shuffling ctx_cat/ctx_cont across {n} cycles moves p_long by {mean:.4f} on average "
        f"(p95 {ctx['p95_abs_delta']:.4f}; the threshold is {needed:.4f}, p_long std {spread:.4f})"
    )
    return (USES if mean >= needed and mean > 0 else IGNORES), f"{moved}; {buckets}"


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
