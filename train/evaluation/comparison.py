"""The A/B comparison of a replay: the model's summary against a baseline bundle's, side by side."""

from __future__ import annotations

from typing import Any

from train.serving.scoring import CONTEXT_GROUPS


def compare(model: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The A/B numbers side by side: each verdict with its deciding numbers (all-context sensitivity, noise
    floor, direction reliance), the benefit of the model over the baseline on the same cycles (paired log
    loss, from the model's context usage), and the test metrics (model minus baseline)."""
    rows = {}
    for role, s in (("model", model), ("baseline", baseline)):
        usage = s["context_usage"]
        group = usage["deciding_group"]
        row: dict[str, Any] = {
            "variant": s["bundle"]["variant"],
            "verdict": usage["verdict"],
            "noise_floor_p95_abs_delta": usage["noise_floor"]["p95_abs_delta"],
        }
        for g in CONTEXT_GROUPS:  # the same keys for both (None where a variant has no such input)
            row[f"{g}_mean_abs_delta"] = usage["sensitivity"].get(g, {}).get("mean_abs_delta")
        for head, reliance in usage["reliance"][group].items():
            for key in ("estimate", "low", "high"):
                row[f"{group}_{head}_reliance_{key}"] = reliance[key]
        row.update({f"{name}_bucket_test_p_value": t["p_value"] for name, t in usage["bucket_tests"].items()})
        row["p_long_std"] = usage["p_long_std"]
        rows[role] = row
    diff = {
        head: {
            metric: model["test_metrics"][head][metric] - baseline["test_metrics"][head][metric]
            for metric in ("auc", "log_loss", "brier")
        }
        for head in model["test_metrics"]
        if head in baseline["test_metrics"]
    }
    return {
        "side_by_side": rows,
        "benefit_model_minus_baseline": model["context_usage"].get("benefit"),
        "test_metric_diff_model_minus_baseline": diff,
    }
