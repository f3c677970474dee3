"""The A/B comparison of a replay: the model's summary against a baseline bundle's, side by side."""

from __future__ import annotations

from typing import Any


def compare(model: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The A/B numbers side by side: verdict inputs and test metrics (model minus baseline)."""
    usage = {role: s["context_usage"] for role, s in (("model", model), ("baseline", baseline))}
    rows = {
        role: {
            "variant": s["bundle"]["variant"],
            "verdict": usage[role]["verdict"],
            "ctx_shuffled_mean_abs_delta": usage[role]["ablation_ctx_shuffled"]["mean_abs_delta"],
            "ctx_shuffled_p95_abs_delta": usage[role]["ablation_ctx_shuffled"]["p95_abs_delta"],
            "all_context_shuffled_mean_abs_delta": usage[role]["ablation_all_context_shuffled"][
                "mean_abs_delta"
            ],
            **{
                f"{name}_bucket_test_p_value": test["p_value"]
                for name, test in usage[role]["bucket_tests"].items()
            },
            "p_long_std": usage[role]["p_long_std"],
        }
        for role, s in (("model", model), ("baseline", baseline))
    }
    diff = {
        head: {
            metric: model["test_metrics"][head][metric] - baseline["test_metrics"][head][metric]
            for metric in ("auc", "log_loss", "brier")
        }
        for head in model["test_metrics"]
        if head in baseline["test_metrics"]
    }
    return {"side_by_side": rows, "test_metric_diff_model_minus_baseline": diff}
