"""The perf summary of one bundle's replayed cycles: the eligibility funnel, the p_long distribution overall
and by session / vol regime / trend regime, the context-usage evidence and verdict
(`train.evaluation.context_evidence`) with the bucket tests beside it, the in-sample shares per fitting
stage (`train.evaluation.in_sample`) and the bundle's test metrics; and the benefit of a model over its
baseline on the same cycles."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from schemas.bundle_metadata import BundleMetadata
from train.evaluation.context_evidence import HEADS, Replayed, benefit, context_usage
from train.evaluation.in_sample import in_sample
from train.evaluation.replay_config import ReplayConfig
from train.evaluation.telemetry import GROUPINGS, bucket_tests, by_bucket, cycle_funnel, distribution
from train.fitting.bootstrap import trading_days
from train.fitting.bundle import LoadedBundle
from train.serving.scoring import CONTEXT_GROUPS, CONTROL


def summarize(bundle: LoadedBundle, cycles: pl.DataFrame, config: ReplayConfig) -> dict[str, Any]:
    """The perf summary of one bundle's cycles (see the module docstring)."""
    meta = bundle.metadata
    if meta is None:
        raise ValueError(f"bundle {bundle.path}: its metadata could not be read, so it cannot be summarized")
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
            "variant": meta.variant,
            "snapshot_id": meta.snapshot_id,
            "load_mode": config.load_mode,
            "status": bundle.status,
            "problems": list(bundle.problems),
            "feature_contract_hash": meta.feature_contract_hash,
            "full_contract_hash": meta.full_contract_hash,
            "contract_version": meta.contract_version,
        },
        "degraded": bundle.status != "ok",
        "range": [str(ts.min()), str(ts.max())],
        "in_sample": in_sample(meta, predicted["ts"].cast(pl.Datetime("us")).to_numpy()),
        "funnel": funnel,
        "p_long": distribution(p),
        "p_xgb": distribution(predicted["p_xgb"].to_numpy()),
        "non_finite_outputs": int((~np.isfinite(p)).sum()),
    }
    for name, (_, names) in GROUPINGS.items():
        summary[f"p_long_by_{name}"] = by_bucket(p, groups[name], names, per_cycle=config.per_cycle)
    usage = context_usage(replayed(predicted), config.verdict, has_ctx_inputs=meta.supports_context_features)
    days = trading_days(predicted["ts"].cast(pl.Datetime("us")).to_numpy())
    usage["bucket_tests"] = bucket_tests(p, groups, days, config.buckets)
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


def _test_metrics(meta: BundleMetadata) -> dict[str, Any]:
    test = meta.metrics.get("test", {})
    return {
        head: {k: test[head][k] for k in ("n", "auc", "log_loss", "brier")}
        for head in ("direction", "early_move")
        if head in test
    }
