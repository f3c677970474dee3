"""The replay summary as plain tables: the one source of the terminal view and of report.html.

Each function turns a part of the summary (see `train.evaluation.replay_summary`) into a
`validation.html_report.Table` of formatted cells; `train.app.replay_view` prints them with rich,
`train.evaluation.replay_html` writes them into the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from train.evaluation.context_evidence import HEADS
from train.evaluation.in_sample import STAGES
from train.evaluation.telemetry import GROUPINGS
from train.serving.scoring import CONTEXT_GROUPS
from validation.html_report import Table


def f(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def funnel_table(funnel: dict[str, Any]) -> Table:
    total = max(funnel["cycles"], 1)
    rows = [
        (stage.replace("_", "-"), f"{funnel[stage]:,}", f"{funnel[stage] / total:.1%}")
        for stage in ("cycles", "hard_eligible", "eligible", "predicted")
    ]
    return Table(("stage", "cycles", "share"), rows, "Cycles (one per bar)")


def buckets_table(summaries: dict[str, dict[str, Any]], grouping: str) -> Table:
    """p_long per bucket of one grouping: n, mean, std and quantiles; mean and std per model for an A/B."""
    single = len(summaries) == 1
    stats = ("mean", "std", "p05", "p50", "p95") if single else ("mean", "std")
    columns = ["bucket", "n"] + [stat if single else f"{stat} {role}" for stat in stats for role in summaries]
    first = next(iter(summaries.values()))[f"p_long_by_{grouping}"]
    rows = [
        [bucket, f"{dist['n']:,}"]
        + [f(s[f"p_long_by_{grouping}"][bucket][stat]) for stat in stats for s in summaries.values()]
        for bucket, dist in first.items()
    ]
    return Table(columns, rows, f"p_long by {grouping.replace('_', ' ')} (predicted cycles)")


def interval(r: dict[str, Any] | None) -> str:
    """An estimate with its 95% interval, or "-" where there is none."""
    if not r or r.get("estimate") is None or not np.isfinite(r["estimate"]):
        return "-"
    return f"{r['estimate']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]"


def usage_table(summaries: dict[str, dict[str, Any]]) -> Table:
    """The context-usage evidence per model: noise floor, sensitivity and reliance per context group (both
    heads), the labelled cycles, the benefit over the baseline, and the bucket tests' p-values."""
    columns = [""] + [f"{role} ({s['bundle']['variant']})" for role, s in summaries.items()]
    rows: dict[str, list[str]] = {"verdict": [], "noise floor: p95 |dp| of the control": []}
    for group in CONTEXT_GROUPS:
        rows[f"{group} permuted: mean / p95 |dp_long|"] = []
        for head in HEADS:
            rows[f"{group} permuted: {head} log loss increase [95%]"] = []
    rows["labelled cycles / days / unlabelled"] = []
    for head in HEADS:
        rows[f"benefit, {head} log loss model - baseline [95%]"] = []
    rows["p_long std"] = []
    rows.update({f"{name}: bucket test p (days)": [] for name in GROUPINGS})
    for s in summaries.values():
        usage = s["context_usage"]
        rows["verdict"].append(usage["verdict"])
        rows["noise floor: p95 |dp| of the control"].append(f(usage["noise_floor"]["p95_abs_delta"], 6))
        for group in CONTEXT_GROUPS:
            sens = usage["sensitivity"].get(group)
            shown = (
                "n/a (no input)"
                if sens is None
                else f"{f(sens['mean_abs_delta'])} / {f(sens['p95_abs_delta'])}"
            )
            rows[f"{group} permuted: mean / p95 |dp_long|"].append(shown)
            for head in HEADS:
                rel = usage["reliance"].get(group, {}).get(head)
                rows[f"{group} permuted: {head} log loss increase [95%]"].append(
                    "n/a (no input)" if rel is None else interval(rel)
                )
        deciding = usage["reliance"][usage["deciding_group"]]["direction"]
        rows["labelled cycles / days / unlabelled"].append(
            f"{deciding['n']:,} / {deciding['n_days']} / {deciding['n_unlabelled']:,}"
        )
        for head in HEADS:
            rows[f"benefit, {head} log loss model - baseline [95%]"].append(
                interval(usage.get("benefit", {}).get(head))
            )
        rows["p_long std"].append(f(usage["p_long_std"]))
        for name, test in usage["bucket_tests"].items():
            p = "not tested" if test["p_value"] is None else f"{test['p_value']:.2g}"
            rows[f"{name}: bucket test p (days)"].append(f"{p} ({test['informative_days']})")
    return Table(columns, [[key, *cells] for key, cells in rows.items()], "Context usage")


def bucket_pairs_table(summary: dict[str, Any]) -> Table:
    """Per grouping and pair of buckets: the paired difference of daily mean p_long, its 95% interval
    (block bootstrap by trading day) and the days holding both buckets (`train.evaluation.bucket_tests`)."""
    rows = []
    for grouping, test in summary["context_usage"]["bucket_tests"].items():
        for pair in test["pairs"]:
            low, high = pair["interval"] or (None, None)
            interval = "-" if low is None else f"[{low:+.4f}, {high:+.4f}]"
            diff = "-" if pair["difference"] is None else f"{pair['difference']:+.4f}"
            rows.append([grouping, f"{pair['a']} - {pair['b']}", f"{pair['days']:,}", diff, interval])
    variant = summary["bundle"]["variant"]
    title = f"p_long differences between buckets, {variant} (daily means, paired within days)"
    return Table(("grouping", "buckets", "days", "difference", "95% interval"), rows, title)


def metric_diff_table(comparison: dict[str, Any]) -> Table:
    rows = [
        [head, *(f"{diff[k]:+.4f}" for k in ("auc", "log_loss", "brier"))]
        for head, diff in comparison["test_metric_diff_model_minus_baseline"].items()
    ]
    return Table(("head", "AUC", "log loss", "Brier"), rows, "Test metrics, model minus baseline")


def describe(summary: dict[str, Any]) -> str:
    """One line: which bundle, on what, over which range, in what state."""
    bundle, source = summary["bundle"], summary["source"]
    where = f"snapshot {source['snapshot_id']}" if source["kind"] == "snapshot" else "candles (online)"
    status = "DEGRADED: " + "; ".join(bundle["problems"]) if summary["degraded"] else "ok"
    return (
        f"Replay of {bundle['path']} ({bundle['variant']}) on {where}, {source['selection']}: "
        f"{summary['range'][0]} .. {summary['range'][1]}; bundle status {status}"
    )


def shares_text(shares: dict[str, float]) -> str:
    """The share of predicted cycles in each fitting stage's span: "base model 0.0%, train 0.0%, val 0.0%"."""
    return ", ".join(f"{stage.replace('_', ' ')} {shares[stage]:.1%}" for stage in STAGES)


def in_sample_note(summary: dict[str, Any]) -> str:
    """Empty for an out-of-sample replay; otherwise a plain warning with each stage's share (per model)."""
    notes = [
        f"{role} ({s['bundle']['variant']}): {shares_text(s['in_sample']['shares'])}"
        for role, s in all_summaries(summary).items()
        if s["in_sample"]["any"]
    ]
    if not notes:
        return ""
    hint = (
        "Without --all-bars, batch replay scores only the test split (out-of-sample)."
        if summary["source"]["kind"] == "snapshot"
        else "A date range after the validation split is out-of-sample."
    )
    return (
        "IN-SAMPLE: this replay includes bars the bundle was fitted or selected on, so its numbers are "
        "not out-of-sample. Share of predicted cycles in the base model's training span, the training "
        "split and the validation split: " + "; ".join(notes) + ". " + hint
    )


def online_line(summary: dict[str, Any]) -> str:
    if summary["source"]["kind"] != "online":
        return ""
    latency, check = summary["source"]["per_bar_ms"], summary["online_vs_batch"]
    return (
        f"Online: featurize + predict per bar median {latency['median']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms; per-bar p_long vs batch scoring of the same rows: "
        f"max |diff| {check['max_abs_diff_p_long']:.2e}"
    )


def verdict_line(summary: dict[str, Any]) -> str:
    """The verdict with the numbers that decided it, then the benefit over the baseline where there is one."""
    usage = summary["context_usage"]
    line = f"{summary['bundle']['variant']} {usage['verdict']}: {usage['reason']}"
    if "benefit" in usage:
        benefit = usage["benefit"]["direction"]
        line += (
            f". Benefit over the baseline: direction log loss model - baseline {interval(benefit)} "
            f"(n = {benefit['n']:,}, {benefit['n_days']} days; negative favours the model)"
        )
    return line


def all_summaries(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    summaries = {"model": summary}
    if "baseline" in summary:
        summaries["baseline"] = summary["baseline"]
    return summaries
