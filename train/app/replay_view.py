"""The replay summary as rich tables for the terminal (`train replay`, `demo` and `verify-fullyear`)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from train.evaluation.telemetry import GROUPINGS, USES


def _f(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def funnel_view(funnel: dict[str, Any]) -> Table:
    table = Table(title="Cycles (one per bar)", title_justify="left")
    for column in ("stage", "cycles", "share"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    total = max(funnel["cycles"], 1)
    for stage in ("cycles", "hard_eligible", "eligible", "predicted"):
        table.add_row(stage.replace("_", "-"), f"{funnel[stage]:,}", f"{funnel[stage] / total:.1%}")
    return table


def buckets_view(summaries: dict[str, dict[str, Any]], grouping: str) -> Table:
    """p_long per bucket of one grouping: n, mean, std and quantiles; mean and std per model for an A/B."""
    table = Table(title=f"p_long by {grouping.replace('_', ' ')} (predicted cycles)", title_justify="left")
    table.add_column("bucket")
    table.add_column("n", justify="right")
    single = len(summaries) == 1
    stats = ("mean", "std", "p05", "p50", "p95") if single else ("mean", "std")
    for stat in stats:
        for role in summaries:
            table.add_column(stat if single else f"{stat} {role}", justify="right")
    first = next(iter(summaries.values()))[f"p_long_by_{grouping}"]
    for bucket, dist in first.items():
        cells = [_f(s[f"p_long_by_{grouping}"][bucket][stat]) for stat in stats for s in summaries.values()]
        table.add_row(bucket, f"{dist['n']:,}", *cells)
    return table


def usage_view(summaries: dict[str, dict[str, Any]]) -> Table:
    """The verdict inputs per model: both ablations and the rank tests' effect sizes."""
    table = Table(title="Context usage", title_justify="left")
    table.add_column("")
    for role, s in summaries.items():
        table.add_column(f"{role} ({s['bundle']['variant']})", justify="right")
    rows: dict[str, list[str]] = {
        "verdict": [],
        "ctx shuffled: mean |dp|": [],
        "ctx shuffled: p95 |dp|": [],
        "all context shuffled: mean |dp|": [],
        "p_long std": [],
    }
    rows.update({f"{name}: epsilon^2 (p)": [] for name in GROUPINGS})
    for s in summaries.values():
        usage = s["context_usage"]
        rows["verdict"].append(usage["verdict"])
        rows["ctx shuffled: mean |dp|"].append(_f(usage["ablation_ctx_shuffled"]["mean_abs_delta"]))
        rows["ctx shuffled: p95 |dp|"].append(_f(usage["ablation_ctx_shuffled"]["p95_abs_delta"]))
        rows["all context shuffled: mean |dp|"].append(
            _f(usage["ablation_all_context_shuffled"]["mean_abs_delta"])
        )
        rows["p_long std"].append(_f(usage["p_long_std"]))
        for name, test in usage["rank_tests"].items():
            p = "-" if test["p_value"] is None else f"{test['p_value']:.2g}"
            rows[f"{name}: epsilon^2 (p)"].append(f"{_f(test['epsilon_squared'], 3)} ({p})")
    for key, cells in rows.items():
        table.add_row(key, *cells)
    return table


def metric_diff_view(comparison: dict[str, Any]) -> Table:
    table = Table(title="Test metrics, model minus baseline", title_justify="left")
    for column in ("head", "AUC", "log loss", "Brier"):
        table.add_column(column, justify="right")
    for head, diff in comparison["test_metric_diff_model_minus_baseline"].items():
        table.add_row(head, *(f"{diff[k]:+.4f}" for k in ("auc", "log_loss", "brier")))
    return table


def replay_view(summary: dict[str, Any], report_dir: str) -> Group:
    """Everything `train replay` prints: source and status, funnel, buckets, usage, A/B, verdict last."""
    bundle = summary["bundle"]
    source = summary["source"]
    where = f"snapshot {source['snapshot_id']}" if source["kind"] == "snapshot" else "candles (online)"
    status = "DEGRADED: " + "; ".join(bundle["problems"]) if summary["degraded"] else "ok"
    parts: list[Any] = [
        Text(
            f"Replay of {bundle['path']} ({bundle['variant']}) on {where}, "
            f"{summary['range'][0]} .. {summary['range'][1]}; bundle status {status}",
            style="bold red" if summary["degraded"] else "",
        ),
    ]
    if summary["in_sample_share"] > 0:
        parts.append(
            Text(
                f"Note: {summary['in_sample_share']:.0%} of the predicted cycles lie in the bundle's "
                "training split (in-sample).",
                style="yellow",
            )
        )
    parts.append(funnel_view(summary["funnel"]))
    summaries = {"model": summary}
    if "baseline" in summary:
        summaries["baseline"] = summary["baseline"]
    parts += [buckets_view(summaries, grouping) for grouping in GROUPINGS]
    parts.append(usage_view(summaries))
    if "comparison" in summary:
        parts.append(metric_diff_view(summary["comparison"]))
    if source["kind"] == "online":
        latency = source["per_bar_ms"]
        check = summary["online_vs_batch"]
        parts.append(
            Text(
                f"Online: featurize + predict per bar median {latency['median']:.1f} ms, "
                f"p99 {latency['p99']:.1f} ms; per-bar p_long vs batch scoring of the same rows: "
                f"max |diff| {check['max_abs_diff_p_long']:.2e}"
            )
        )
    parts.append(Text(f"Report: {report_dir}"))
    usage = summary["context_usage"]
    parts.append(
        Text(
            f"Verdict: {bundle['variant']} {usage['verdict']}: {usage['reason']}",
            style="bold green" if usage["verdict"] == USES else "bold yellow",
        )
    )
    return Group(*parts)
