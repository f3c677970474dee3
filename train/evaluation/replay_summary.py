"""The perf summary of one bundle's replayed cycles: the eligibility funnel, the in-sample share of each
fitting stage, the p_long distribution overall and by session / vol regime / trend regime, the context-usage
verdict and the bundle's test metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from schemas.bundle_metadata import BundleMetadata
from train.evaluation.bootstrap import trading_days
from train.evaluation.in_sample import in_sample
from train.evaluation.telemetry import GROUPINGS, by_bucket, context_usage, cycle_funnel, distribution
from train.fitting.bundle import LoadedBundle

if TYPE_CHECKING:
    from train.evaluation.replay import ReplayConfig


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
    summary["context_usage"] = context_usage(
        p,
        predicted["p_long_ctx_shuffled"].to_numpy(),
        predicted["p_long_all_context_shuffled"].to_numpy(),
        groups,
        config.verdict,
        days=trading_days(predicted["ts"].cast(pl.Datetime("us")).to_numpy()),
        has_ctx_inputs=meta.supports_context_features,
    )
    summary["test_metrics"] = _test_metrics(meta)
    return summary


def _test_metrics(meta: BundleMetadata) -> dict[str, Any]:
    test = meta.metrics.get("test", {})
    return {
        head: {k: test[head][k] for k in ("n", "auc", "log_loss", "brier")}
        for head in ("direction", "early_move")
        if head in test
    }
