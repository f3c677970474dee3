"""The A/B comparison of a replay: the model's summary against a baseline bundle's, side by side."""

from __future__ import annotations

from typing import Any


def compare(model: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The A/B numbers side by side: each verdict with its deciding numbers (all-context sensitivity, noise
    floor, direction reliance), the benefit of the model over the baseline on the same cycles (paired log
    loss, from the model's context usage), and the test metrics (model minus baseline)."""
    rows = {}
    for role, s in (("model", model), ("baseline", baseline)):
        usage = s["context_usage"]
        group = usage["deciding_group"]
        reliance = usage["reliance"][group]
        rows[role] = {
            "variant": s["bundle"]["variant"],
            "verdict": usage["verdict"],
            "noise_floor_p95_abs_delta": usage["noise_floor"]["p95_abs_delta"],
            **{f"{g}_mean_abs_delta": sens["mean_abs_delta"] for g, sens in usage["sensitivity"].items()},
            **{f"{group}_{head}_reliance": reliance[head] for head in reliance},
            **{
                f"{name}_epsilon_squared": test["epsilon_squared"]
                for name, test in usage["rank_tests"].items()
            },
            "p_long_std": usage["p_long_std"],
        }
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
