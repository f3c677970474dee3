"""The perf summary of one bundle's replayed cycles: the eligibility funnel, the p_long distribution overall
and by session / vol regime / trend regime, the context-usage evidence and verdict
(`train.evaluation.context_evidence`) with the rank tests beside it, and the bundle's test metrics; and the
benefit of a model over its baseline on the same cycles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from train.evaluation.context_evidence import HEADS, Replayed, benefit, context_usage
from train.evaluation.telemetry import GROUPINGS, by_bucket, cycle_funnel, distribution, rank_test
from train.fitting.bundle import LoadedBundle
from train.serving.scoring import CONTEXT_GROUPS, CONTROL

if TYPE_CHECKING:
    from train.evaluation.replay import ReplayConfig


def summarize(bundle: LoadedBundle, cycles: pl.DataFrame, config: ReplayConfig) -> dict[str, Any]:
    """The perf summary of one bundle's cycles (see the module docstring)."""
    meta = bundle.metadata
    predicted = cycles.filter(pl.col("predicted"))
    p = predicted["p_long"].to_numpy()
    groups = {name: predicted[column].to_numpy() for name, (column, _) in GROUPINGS.items()}
    funnel = cycle_funnel(
        cycles["status"].to_numpy(),
        cycles["reason"].to_numpy(),
        cycles["eligible"].to_numpy(),
        cycles["predicted"].to_numpy(),
    )
    ts = cycles["ts"]
    summary: dict[str, Any] = {
        "bundle": {
            "path": str(bundle.path),
            "variant": meta.get("variant"),
            "snapshot_id": meta.get("snapshot_id"),
            "load_mode": config.load_mode,
            "status": bundle.status,
            "problems": list(bundle.problems),
            "feature_contract_hash": meta.get("feature_contract_hash"),
            "full_contract_hash": meta.get("full_contract_hash"),
        },
        "degraded": bundle.status != "ok",
        "range": [str(ts.min()), str(ts.max())],
        "in_sample_share": _in_sample_share(meta, predicted["ts"]),
        "funnel": funnel,
        "p_long": distribution(p),
        "p_xgb": distribution(predicted["p_xgb"].to_numpy()),
        "non_finite_outputs": int((~np.isfinite(p)).sum()),
    }
    for name, (_, names) in GROUPINGS.items():
        summary[f"p_long_by_{name}"] = by_bucket(p, groups[name], names, per_cycle=config.per_cycle)
    usage = context_usage(
        replayed(predicted), config.verdict, has_ctx_inputs=bool(meta.get("supports_context_features"))
    )
    usage["rank_tests"] = {
        name: rank_test(p, groups[name], GROUPINGS[name][1], config.rank_tests) for name in GROUPINGS
    }
    summary["context_usage"] = usage
    summary["test_metrics"] = _test_metrics(meta)
    return summary


def replayed(predicted: pl.DataFrame) -> Replayed:
    """The verdict's view of the predicted cycles: outputs, their ablations ([n, K] arrays) and labels."""
    outputs = [output for output, _ in HEADS.values()]
    groups = [g for g in (CONTROL, *CONTEXT_GROUPS) if f"p_long_{g}" in predicted.columns]
    return Replayed(
        ts=predicted["ts"].to_numpy(),
        outputs={name: predicted[name].to_numpy() for name in outputs},
        ablated={g: {name: predicted[f"{name}_{g}"].to_numpy() for name in outputs} for g in groups},
        labels={label: predicted[label].fill_null(float("nan")).to_numpy() for _, label in HEADS.values()},
    )


def cycles_benefit(model: pl.DataFrame, baseline: pl.DataFrame, config: ReplayConfig) -> dict[str, Any]:
    """The paired held-out log loss model - baseline per head over the same cycles (the same frame)."""
    if not model["ts"].equals(baseline["ts"]):
        raise ValueError("the model and the baseline were replayed over different cycles")
    outputs = [output for output, _ in HEADS.values()]  # NaN where a cycle was not predicted
    labels = {label: model[label].fill_null(float("nan")).to_numpy() for _, label in HEADS.values()}
    return benefit(
        labels,
        {name: model[name].to_numpy() for name in outputs},
        {name: baseline[name].to_numpy() for name in outputs},
        model["ts"].to_numpy(),
        seed=config.verdict.seed,
    )


def _in_sample_share(meta: dict[str, Any], ts: pl.Series) -> float:
    """Share of predicted cycles inside the bundle's training split: those are not out-of-sample."""
    train = meta.get("split_ranges", {}).get("train") or []
    if len(train) != 2 or ts.is_empty():
        return 0.0
    lo, hi = (np.datetime64(x, "us") for x in train)
    stamps = ts.cast(pl.Datetime("us")).to_numpy()
    return float(((stamps >= lo) & (stamps <= hi)).mean())


def _test_metrics(meta: dict[str, Any]) -> dict[str, Any]:
    test = meta.get("metrics", {}).get("test", {})
    return {
        head: {k: test[head][k] for k in ("n", "auc", "log_loss", "brier")}
        for head in ("direction", "early_move")
        if head in test
    }
