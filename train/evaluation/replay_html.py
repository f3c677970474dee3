"""report.html of a replay: the terminal's tables, the context-usage verdict with its numbers, every plot
inline (`validation.html_report`). Written beside summary.json in the replay's report folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.evaluation.context_evidence import INCONCLUSIVE, USES
from train.evaluation.replay_tables import (
    all_summaries,
    bucket_pairs_table,
    buckets_table,
    describe,
    f,
    funnel_table,
    in_sample_note,
    interval,
    metric_diff_table,
    online_line,
    shares_text,
    usage_table,
    verdict_line,
)
from train.evaluation.telemetry import GROUPINGS
from validation.html_report import Figure, HtmlReport, Section, Verdict, write_html

REPORT_NAME = "report.html"


def replay_report(summary: dict[str, Any], report_dir: Path) -> HtmlReport:
    """The page of one replay, from its summary and the plots in `report_dir`."""
    plots = {name: Path(report_dir) / name for name in summary.get("plots", [])}

    def figure(name: str, caption: str) -> tuple[Figure, ...]:
        return (Figure.from_png(plots[name], caption),) if name in plots else ()

    usage = summary["context_usage"]
    predicted = summary["funnel"]["predicted"]
    group = usage["deciding_group"]
    sens, rel = usage["sensitivity"][group], usage["reliance"][group]["direction"]
    numbers = (
        f"n = {predicted:,} predicted cycles ({rel['n']:,} labelled, {rel['n_days']} days); {group} permuted "
        f"x{sens['repeats']}: mean |dp| {f(sens['mean_abs_delta'])}, p95 |dp| {f(sens['p95_abs_delta'])} "
        f"(noise floor {f(usage['noise_floor']['p95_abs_delta'], 6)}); direction log loss increase "
        f"{interval(rel)}"
    )
    kind = {INCONCLUSIVE: "inconclusive", USES: "pass"}.get(usage["verdict"], "info")
    text = f"Verdict: {verdict_line(summary)}"
    if summary["in_sample"]["any"]:
        kind, text = "fail", f"IN-SAMPLE replay ({shares_text(summary['in_sample']['shares'])}). {text}"
    if summary["degraded"]:  # live mode went on past a bundle mismatch: say so first
        kind, text = "fail", f"DEGRADED bundle ({'; '.join(summary['bundle']['problems'])}). {text}"
    verdict = Verdict(text, kind, numbers)
    summaries = all_summaries(summary)
    intro = [text for text in (describe(summary), in_sample_note(summary), online_line(summary)) if text]
    sections = [
        Section(
            "Cycles", intro, (funnel_table(summary["funnel"]),), figure("eligibility_funnel.png", "funnel")
        ),
        *(
            Section(
                f"p_long by {grouping.replace('_', ' ')}",
                tables=(buckets_table(summaries, grouping),),
                figures=figure(f"p_long_by_{grouping}.png", f"p_long by {grouping.replace('_', ' ')}"),
            )
            for grouping in GROUPINGS
        ),
        Section(
            "Context usage",
            [
                "Three measures on the replayed cycles: sensitivity (how far p_long moves when a context "
                "group is permuted across cycles, against the noise floor of a control run), reliance (how "
                "much held-out log loss rises under the same permutations, 95% interval from a block "
                "bootstrap by trading day) and, with a baseline, benefit (paired log loss model - baseline). "
                "How the verdict is decided: docs/replay.md.",
                usage["reason"],
            ],
            (usage_table(summaries), bucket_pairs_table(summary)),
            figure("p_long_ablation.png", "p_long distribution and the context ablation"),
        ),
    ]
    if "comparison" in summary:
        sections.append(
            Section("A/B against the baseline", tables=(metric_diff_table(summary["comparison"]),))
        )
    bundle = summary["bundle"]
    facts = {
        "bundle": bundle["path"],
        "variant": bundle["variant"],
        "bundle status": bundle["status"],
        "range (UTC)": " .. ".join(summary["range"]),
        "scored": summary["source"]["selection"],
        "in-sample share of predicted cycles": shares_text(summary["in_sample"]["shares"]),
        "feature_contract_hash": bundle["feature_contract_hash"],
    }
    return HtmlReport(f"Replay: {Path(bundle['path']).name}", verdict, sections, facts, "summary.json")


def write_replay_html(summary: dict[str, Any], report_dir: Path) -> Path:
    """Write report.html into `report_dir`; returns its path."""
    return write_html(replay_report(summary, report_dir), Path(report_dir) / REPORT_NAME)
